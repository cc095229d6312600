//! The CLI's integration tests: the built binary (`uqpay-issuing`) driven as
//! a separate process, against the simulator (`uqpay-mock`) on a real port,
//! run in the test process so that its state can be inspected (or, for
//! `mock serve`, as a second process of the CLI).

mod answered;
mod bad_input;
mod commands;
mod crash_resume;
mod journal_files;
mod listen;
mod moved_rows;
mod pace;
mod proxy;
mod rediss;
mod resend_window;
mod secrets;
mod support;
mod token_store;
