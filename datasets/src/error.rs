//! The one error type of data loading: it always says which file (and where possible which line
//! and field) is at fault, because a user facing a bad dataset needs to know what to fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// Result of a data operation.
pub type Result<T> = std::result::Result<T, DataError>;

/// What went wrong while reading or generating data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but its content is wrong.
    #[error("{}: {message}", Location { path, line: *line, field: field.as_deref() })]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line number, where the format has lines.
        line: Option<usize>,
        /// Column or field name.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A request that cannot be satisfied (bad index, bad parameters).
    #[error("{0}")]
    Invalid(String),
}

impl DataError {
    /// An I/O failure on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// Bad content in `path`.
    pub fn format(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Self::Format {
            path: path.as_ref().to_path_buf(),
            line: None,
            field: None,
            message: message.into(),
        }
    }

    /// Bad content at `line` (1-based) of `path`, optionally in `field`.
    pub fn at_line(
        path: impl AsRef<Path>,
        line: usize,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self::Format {
            path: path.as_ref().to_path_buf(),
            line: Some(line),
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    /// A request that cannot be satisfied.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }
}

struct Location<'a> {
    path: &'a Path,
    line: Option<usize>,
    field: Option<&'a str>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(field) = self.field {
            write!(f, ", field `{field}`")?;
        }
        Ok(())
    }
}

/// The first `max` of `items`, comma-separated, with "(and N more)" when some are left out: how
/// errors name offenders (missing files, unknown keys) without flooding the terminal.
pub fn first_few<S: AsRef<str>>(items: &[S], max: usize) -> String {
    let shown: Vec<&str> = items.iter().take(max).map(AsRef::as_ref).collect();
    match items.len().saturating_sub(max) {
        0 => shown.join(", "),
        more => format!("{} (and {more} more)", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_file_line_and_field() {
        let e = DataError::at_line("data/adult.csv", 17, Some("age"), "not a number: `x`");
        assert_eq!(
            e.to_string(),
            "data/adult.csv, line 17, field `age`: not a number: `x`"
        );
        let e = DataError::format("a.json", "missing key `images`");
        assert_eq!(e.to_string(), "a.json: missing key `images`");
    }
}
