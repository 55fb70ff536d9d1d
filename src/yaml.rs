//! The YAML side of config files: the only place serde_yaml appears.
//!
//! Reading goes through serde_yaml. Writing does not: serde_yaml writes YAML 1.2, where `yes`,
//! `on`, `2024-01-01` and `1_000` are strings, and LangChain Python's PyYAML (YAML 1.1) reads
//! them as booleans, dates and numbers. The small emitter here quotes every string either
//! reader could take for something else, so both see the same values.

use std::fmt::Write as _;

use serde::de::DeserializeSeed;
use serde_json::{Map, Number, Value};

/// A parser's message and, when it knows, the 1-based line and column.
pub(crate) type ParseFailure = (String, Option<(usize, usize)>);

/// Parses `text` with `seed`.
pub(crate) fn parse<'de, S: DeserializeSeed<'de>>(text: &'de str, seed: S) -> Result<S::Value, ParseFailure> {
    seed.deserialize(serde_yaml::Deserializer::from_str(text))
        .map_err(|e| (e.to_string(), e.location().map(|l| (l.line(), l.column()))))
}

/// Block-style YAML that reads back the same in YAML 1.2 (serde_yaml) and YAML 1.1 (PyYAML):
/// strings are plain only when no reader could take them for anything else, floats always have a
/// `.` and a signed exponent, and characters YAML cannot hold raw are escaped.
pub(crate) fn to_string(fields: &Map<String, Value>) -> String {
    let mut out = String::new();
    yaml_map(&mut out, fields, 0, false);
    out
}

fn yaml_map(out: &mut String, map: &Map<String, Value>, indent: usize, mut inline_first: bool) {
    for (key, value) in map {
        if !std::mem::take(&mut inline_first) {
            out.extend(std::iter::repeat_n(' ', indent));
        }
        yaml_string(out, key);
        out.push(':');
        match value {
            Value::Object(child) if !child.is_empty() => {
                out.push('\n');
                yaml_map(out, child, indent + 2, false);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                yaml_seq(out, items, indent + 2, false);
            }
            scalar => {
                out.push(' ');
                yaml_scalar(out, scalar);
                out.push('\n');
            }
        }
    }
}

fn yaml_seq(out: &mut String, items: &[Value], indent: usize, mut inline_first: bool) {
    for item in items {
        if !std::mem::take(&mut inline_first) {
            out.extend(std::iter::repeat_n(' ', indent));
        }
        out.push_str("- ");
        match item {
            Value::Object(child) if !child.is_empty() => yaml_map(out, child, indent + 2, true),
            Value::Array(inner) if !inner.is_empty() => yaml_seq(out, inner, indent + 2, true),
            scalar => {
                yaml_scalar(out, scalar);
                out.push('\n');
            }
        }
    }
}

fn yaml_scalar(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&yaml_number(n)),
        Value::String(s) => yaml_string(out, s),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn yaml_number(n: &Number) -> String {
    let text = n.to_string();
    if !n.is_f64() {
        return text;
    }
    // serde_json writes `1e-7` and `1e+21`; PyYAML reads a float only with a `.` and a signed exponent.
    let (mantissa, exponent) = match text.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (text.as_str(), None),
    };
    let mut out = mantissa.to_owned();
    if !out.contains('.') {
        out.push_str(".0");
    }
    if let Some(exponent) = exponent {
        out.push('e');
        if !exponent.starts_with(['-', '+']) {
            out.push('+');
        }
        out.push_str(exponent);
    }
    out
}

fn yaml_string(out: &mut String, s: &str) {
    let plain = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "inf" | "infinity" | "nan"
        );
    if plain {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Controls (C0, DEL, C1 with NEL), YAML 1.1 line separators and the BOM are not
            // printable raw; all are in the BMP, so four hex digits hold them.
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}') =>
            {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Where YAML flow collections (`[…]`, `{…}`) first nest deeper than `max`, from the raw text.
///
/// libyaml's scanner does work per token in proportion to the open flow collections, so a
/// megabyte of `[` takes minutes before the parsed depth can be checked. This scan is linear and
/// errs towards counting: quoted scalars, comments and block scalars are skipped, and a bracket
/// is counted only where a flow collection could start.
pub(crate) fn flow_nesting_exceeds(text: &str, max: usize) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    // Indentation of the line whose `|` or `>` opened a block scalar still running.
    let mut block_scalar_parent: Option<usize> = None;
    for (line_index, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(parent) = block_scalar_parent {
            if line.trim().is_empty() || indent > parent {
                continue;
            }
            block_scalar_parent = None;
        }
        let mut code_end = line.len();
        let mut prev: Option<char> = None;
        let mut chars = line.char_indices().enumerate().peekable();
        while let Some((column, (offset, c))) = chars.next() {
            match quote {
                Some('"') => match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => quote = None,
                    _ => {}
                },
                Some(_) => {
                    if c == '\'' {
                        if chars.peek().is_some_and(|(_, (_, next))| *next == '\'') {
                            chars.next();
                        } else {
                            quote = None;
                        }
                    }
                }
                None => {
                    let token_start = matches!(prev, None | Some(' ' | '\t' | '[' | '{' | ','))
                        || (depth > 0 && prev == Some(':'));
                    match c {
                        '#' if matches!(prev, None | Some(' ' | '\t')) => {
                            code_end = offset;
                            break;
                        }
                        '"' | '\'' if token_start => quote = Some(c),
                        '[' | '{' if depth > 0 || token_start => {
                            depth += 1;
                            if depth > max {
                                return Some((line_index + 1, column + 1));
                            }
                        }
                        ']' | '}' if depth > 0 => depth -= 1,
                        _ => {}
                    }
                }
            }
            prev = Some(c);
        }
        if quote.is_none() && depth == 0 {
            let code = line.get(..code_end).unwrap_or(line).trim_end();
            let last = code.rsplit([' ', '\t']).next().unwrap_or("");
            let header = last.strip_prefix(['|', '>']);
            if header.is_some_and(|rest| rest.chars().all(|c| matches!(c, '+' | '-' | '0'..='9'))) {
                block_scalar_parent = Some(indent);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_numbers_read_as_floats_in_yaml_1_1() {
        let n = |f: f64| yaml_number(&Number::from_f64(f).unwrap());
        assert_eq!(n(0.2), "0.2");
        assert_eq!(n(1e-7), "1.0e-7");
        assert_eq!(n(1e21), "1.0e+21");
        assert_eq!(n(100.0), "100.0");
        assert_eq!(yaml_number(&Number::from(-3)), "-3");
    }

    #[test]
    fn yaml_strings_quoted_unless_unambiguous() {
        let s = |text: &str| {
            let mut out = String::new();
            yaml_string(&mut out, text);
            out
        };
        assert_eq!(s("azureml_endpoint"), "azureml_endpoint");
        assert_eq!(s("yes"), "\"yes\"");
        assert_eq!(s("Off"), "\"Off\"");
        assert_eq!(s("2024-01-01"), "\"2024-01-01\"");
        assert_eq!(s("a\u{85}b\u{2028}\"\\\n"), "\"a\\u0085b\\u2028\\\"\\\\\\n\"");
        assert_eq!(s(""), "\"\"");
    }
}
