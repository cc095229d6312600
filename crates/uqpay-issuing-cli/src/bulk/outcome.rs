//! How each row of a run ends (or stands): [`Status`] and [`Outcome`], as
//! the report and the summaries show them.

use uuid::Uuid;

/// How a row ended (or stands).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Assigned (in this run or an earlier one).
    Done,
    /// Refused: by UQPay, by validation, or as bad input.
    Failed,
    /// The outcome is unknown and resending could do harm: sent more than
    /// [`RESEND_WITHIN`](crate::bulk::plan::RESEND_WITHIN) ago with no
    /// outcome known, answered 2xx with a body that could not be read, or
    /// left in flight by a row that is no longer in the CSV. Check the card
    /// in UQPay before doing anything with the row.
    ReconcileRequired,
    /// Still in flight: met transient errors until this run gave up on it,
    /// or was not finished when the run stopped; the next run resends it.
    Pending,
    /// Not sent: the run stopped first (Ctrl-C, --fail-fast).
    NotSent,
}

impl Status {
    /// The name in the report and the summaries.
    pub fn name(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Failed => "failed",
            Status::ReconcileRequired => "reconcile-required",
            Status::Pending => "pending",
            Status::NotSent => "not-sent",
        }
    }
}

/// The outcome of a row (or of a journal's key that no row has any more).
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The row's number; `None` for a key of the journal that matches no
    /// row of the CSV.
    pub row: Option<u64>,
    /// How it stands.
    pub status: Status,
    /// The card, when assigned (or named by an answer that could not be read).
    pub card_id: Option<Uuid>,
    /// The card order, when assigned.
    pub card_order_id: Option<String>,
    /// Why it failed, or what to reconcile (never a card number).
    pub error: Option<String>,
    /// The values of the extra columns.
    pub extra: Vec<String>,
    /// Whether an earlier run settled it.
    pub earlier: bool,
}

impl Outcome {
    /// An outcome of row `row` with no card and no error.
    pub fn new(row: u64, status: Status, extra: Vec<String>) -> Self {
        Self {
            row: Some(row),
            status,
            card_id: None,
            card_order_id: None,
            error: None,
            extra,
            earlier: false,
        }
    }

    /// A failure of row `row` with this message.
    pub fn failed(row: u64, error: String, extra: Vec<String>) -> Self {
        Self {
            error: Some(error),
            ..Self::new(row, Status::Failed, extra)
        }
    }

    /// A reconcile-required outcome of row `row` with this message.
    pub fn reconcile(row: u64, error: String, extra: Vec<String>) -> Self {
        Self {
            error: Some(error),
            ..Self::new(row, Status::ReconcileRequired, extra)
        }
    }
}
