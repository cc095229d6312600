//! `webhook ...`: a local receiver of UQPay's webhooks ([`listen`]) and the
//! check of one delivery ([`verify`]). The secret comes from
//! `UQPAY_WEBHOOK_SECRET`.

pub mod listen;
pub mod verify;

use crate::cli::webhook::WebhookCommand;
use crate::exit::Failure;
use crate::output::Output;

/// Runs a webhook command; the exit code.
pub async fn run(command: WebhookCommand, out: Output) -> Result<u8, Failure> {
    match command {
        WebhookCommand::Listen {
            addr,
            forward_to,
            events,
        } => listen::listen(addr, forward_to, events, out).await,
        WebhookCommand::Verify {
            timestamp,
            signature,
        } => verify::verify(&timestamp, &signature, out),
    }
}
