//! [`CallArgs`]: the per-call options of every API command, and durations.

use clap::Args;

/// The per-call options of every API command.
#[derive(Debug, Args, Clone, Default)]
pub struct CallArgs {
    /// The time limit of each attempt, e.g. 30s, 500ms, 2m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// The time limit of the whole call (attempts and the waits between them).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub deadline: Option<std::time::Duration>,
    /// How many times a failed attempt is retried (default 2).
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,
    /// Act on behalf of this connected sub-account (its account_id).
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub on_behalf_of: Option<String>,
}

/// `30s`, `500ms`, `2m`, `1h`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 30s, 500ms, 2m)"))?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    std::time::Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

/// Applies the per-call options to a request builder.
macro_rules! call_options {
    ($request:expr, $call:expr) => {{
        let mut request = $request;
        let call: &$crate::cli::call::CallArgs = $call;
        if let Some(timeout) = call.timeout {
            request = request.timeout(timeout);
        }
        if let Some(deadline) = call.deadline {
            request = request.deadline(deadline);
        }
        if let Some(retries) = call.max_retries {
            request = request.max_retries(retries);
        }
        if let Some(account) = &call.on_behalf_of {
            request = request.on_behalf_of(account.clone());
        }
        request
    }};
}
pub(crate) use call_options;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("30s"),
            Ok(std::time::Duration::from_secs(30))
        );
        assert_eq!(
            parse_duration("250ms"),
            Ok(std::time::Duration::from_millis(250))
        );
        assert_eq!(
            parse_duration("2m"),
            Ok(std::time::Duration::from_secs(120))
        );
        assert_eq!(parse_duration("5"), Ok(std::time::Duration::from_secs(5)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
