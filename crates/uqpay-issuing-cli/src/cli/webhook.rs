//! `webhook ...`: the arguments of the webhook commands. The secret comes
//! from `UQPAY_WEBHOOK_SECRET`, never from a flag.

use std::net::SocketAddr;

use clap::Subcommand;

/// The webhook commands.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Receive UQPay's webhooks locally: every delivery (a POST on any path)
    /// is verified with UQPAY_WEBHOOK_SECRET; valid ones are answered 2xx,
    /// printed once (redeliveries of an event_id are dropped) and forwarded
    /// unchanged to --forward-to; others are answered 400 and dropped.
    Listen {
        /// The address to listen on (port 0: any free port, printed on stderr).
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8787")]
        addr: SocketAddr,
        /// Forward each valid delivery (raw body and signature headers,
        /// unchanged) to this URL and print the status it answers.
        #[arg(long, value_name = "URL")]
        forward_to: Option<String>,
        /// Only print and forward these event types (`*` matches anything:
        /// card.update.*,card.status.update.succeeded); others are acknowledged.
        #[arg(long, value_name = "PATTERN,...", value_delimiter = ',')]
        events: Vec<String>,
    },
    /// Verify one delivery: the body on stdin, its headers as flags. Exits 0
    /// when it is valid, 1 when it is not.
    Verify {
        /// The x-wk-timestamp header.
        #[arg(long, value_name = "T")]
        timestamp: String,
        /// The x-wk-signature header.
        #[arg(long, value_name = "S")]
        signature: String,
    },
}
