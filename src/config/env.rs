//! `${VAR}` and `${VAR:-default}` in config text, as Docker Compose and Telegraf write them:
//! replaced by the environment variable's value before the YAML is read. A variable that is not
//! set (and has no default) is an error at its line and column; `$${` stands for a literal `${`.
//! Comments are left alone, so a commented-out example may name any variable. Replacement keeps
//! line numbers: a value with a newline is refused.

use super::Problem;
use std::path::Path;

/// The text with every `${…}` outside comments replaced; `lookup` reads the environment.
pub fn expand(
    text: &str,
    path: &Path,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<Problem>> {
    if !text.contains("${") {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let code_end = comment_start(line).unwrap_or(line.len());
        let (code, comment) = line.split_at(code_end);
        let mut rest = code;
        let mut column = 1;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            column += rest[..at].chars().count();
            let tail = &rest[at..];
            if let Some(after) = tail.strip_prefix("$${") {
                out.push_str("${");
                rest = after;
                column += 3;
                continue;
            }
            let Some(body) = tail.strip_prefix("${") else {
                out.push('$');
                rest = &tail[1..];
                column += 1;
                continue;
            };
            let problem = |message: String| Problem {
                file: path.to_path_buf(),
                line: n as u64 + 1,
                column: column as u64,
                message,
            };
            let Some(close) = body.find('}') else {
                problems.push(problem("`${` without a closing `}`".into()));
                out.push_str(tail);
                rest = "";
                break;
            };
            let (name, default) = match body[..close].split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (&body[..close], None),
            };
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let value = if !valid {
                problems.push(problem(format!(
                    "`${{{}}}`: a variable name is letters, digits and `_`",
                    &body[..close]
                )));
                String::new()
            } else {
                match (lookup(name).filter(|v| !v.is_empty()), default) {
                    (Some(v), _) => v,
                    (None, Some(d)) => d.to_string(),
                    (None, None) => {
                        problems.push(problem(format!(
                            "environment variable {name} is not set (write ${{{name}:-default}} for a default)"
                        )));
                        String::new()
                    }
                }
            };
            if value.contains(['\n', '\r']) {
                problems.push(problem(format!(
                    "environment variable {name} holds a line break; only one-line values are substituted"
                )));
            } else {
                out.push_str(&value);
            }
            column += 3 + close;
            rest = &body[close + 1..];
        }
        out.push_str(rest);
        out.push_str(comment);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Where a YAML comment starts on this line: a `#` at the start or after a blank, outside quotes.
fn comment_start(line: &str) -> Option<usize> {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single && prev != '\\' => double = !double,
            '#' if !single && !double && (prev == ' ' || prev == '\t' || i == 0) => {
                return Some(i);
            }
            _ => {}
        }
        prev = c;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".into()),
            "EMPTY" => Some(String::new()),
            "MULTI" => Some("a\nb".into()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<String, Vec<String>> {
        expand(text, Path::new("t.yaml"), env)
            .map_err(|ps| ps.into_iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn variables_defaults_escapes_and_comments() {
        assert_eq!(run("token: ${TOKEN}\n").unwrap(), "token: s3cret\n");
        assert_eq!(
            run("a: ${NOPE:-x}${EMPTY:-y} b${TOKEN}c\n").unwrap(),
            "a: xy bs3cretc\n"
        );
        assert_eq!(
            run("a: '$${TOKEN}' $1 $\n").unwrap(),
            "a: '${TOKEN}' $1 $\n"
        );
        assert_eq!(
            run("# token: ${NOPE}\nb: 1  # ${NOPE}\nc: '#${TOKEN}'\n").unwrap(),
            "# token: ${NOPE}\nb: 1  # ${NOPE}\nc: '#s3cret'\n"
        );
        assert_eq!(run("no variables\n").unwrap(), "no variables\n");
    }

    #[test]
    fn problems_name_the_variable_and_where_it_is() {
        assert_eq!(
            run("a: 1\nhttp: { token: ${NOPE} }\n").unwrap_err(),
            [
                "t.yaml:2:16: environment variable NOPE is not set (write ${NOPE:-default} for a default)"
            ]
        );
        let errs = run("a: ${MULTI} ${1X} ${OPEN\n").unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].starts_with("t.yaml:1:4: ") && errs[0].contains("line break"));
        assert!(errs[1].starts_with("t.yaml:1:13: ") && errs[1].contains("variable name"));
        assert!(errs[2].starts_with("t.yaml:1:19: ") && errs[2].contains("closing"));
    }
}
