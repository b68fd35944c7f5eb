//! What a guest printed before it trapped, boiled down to the line an
//! operator needs: a Rust panic's message, or a Python exception's type,
//! message and the last place in the traceback.

use super::answers::truncate;

/// The part of `printed` that says why the guest stopped, at most 300 characters.
pub(super) fn reason(printed: &str) -> String {
    let lines: Vec<&str> = printed.lines().filter(|l| !l.trim().is_empty()).collect();
    if let Some(python) = python_exception(&lines) {
        return truncate(&python, 300).to_string();
    }
    // Rust guests print "panicked at FILE:LINE:" and the message on the next line.
    let from = lines.iter().rposition(|l| l.contains("panicked")).unwrap_or(lines.len().saturating_sub(1));
    truncate(&lines.get(from..).unwrap_or_default().iter().take(2).copied().collect::<Vec<_>>().join(" "), 300)
        .to_string()
}

/// componentize-py prints the traceback, then panics: "ValueError: ... (File "app.py", line 57, in days_setting)".
fn python_exception(lines: &[&str]) -> Option<String> {
    let start = lines.iter().rposition(|l| l.starts_with("Traceback (most recent call last):"))?;
    let traceback = &lines[start + 1..];
    // The exception is the first line after the frames that is not indented.
    let exception = traceback.iter().find(|l| !l.starts_with(' ') && !l.starts_with('\t'))?;
    let place = traceback.iter().rev().find(|l| l.trim_start().starts_with("File \""));
    Some(match place {
        Some(place) => format!("Python raised {} ({})", exception.trim(), place.trim()),
        None => format!("Python raised {}", exception.trim()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_python_exception_gives_its_type_message_and_last_place() {
        let printed = "Traceback (most recent call last):\n  File \"/app.py\", line 210, in evaluate\n    \
                       min_gap = days_setting(given, \"min_gap_days\", 5)\n  File \"/app.py\", line 57, in days_setting\n    \
                       days = int(value.strip())\nValueError: invalid literal for int() with base 10: 'five'\n\
                       thread '<unnamed>' (1) panicked at runtime/src/lib.rs:1280:25:\n\
                       Python function threw an unexpected exception\n";
        assert_eq!(
            reason(printed),
            "Python raised ValueError: invalid literal for int() with base 10: 'five' \
             (File \"/app.py\", line 57, in days_setting)"
        );
    }

    #[test]
    fn a_rust_panic_gives_its_place_and_message() {
        let printed = "noise\nthread 'main' panicked at src/lib.rs:12:5:\nbad amount\n";
        assert_eq!(reason(printed), "thread 'main' panicked at src/lib.rs:12:5: bad amount");
        assert_eq!(reason(""), "");
    }
}
