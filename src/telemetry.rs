//! Tracing setup: structured logs to stderr (text or JSON lines), filtered by an EnvFilter
//! expression. Standard output stays free for command output.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Telemetry {
    /// The filter expression is not valid.
    #[error("invalid log filter {filter:?}: {source}")]
    Filter {
        /// The expression.
        filter: String,
        /// Why.
        source: tracing_subscriber::filter::ParseError,
    },
    /// A global subscriber was already installed.
    #[error("logging was already set up: {0}")]
    Install(#[from] tracing_subscriber::util::TryInitError),
}

/// Installs the global subscriber.
pub fn init(filter: &str, json: bool) -> Result<(), Telemetry> {
    let filter = EnvFilter::try_new(filter).map_err(|source| Telemetry::Filter {
        filter: filter.to_owned(),
        source,
    })?;
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init()?;
    } else {
        registry
            .with(fmt::layer().with_writer(std::io::stderr).with_target(false))
            .try_init()?;
    }
    Ok(())
}
