//! Running the `azureml-endpoint` binary in the CLI tests: a clean environment with a test key,
//! stdin fed, and a check that the key never reaches the output.

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use super::KEY;

/// Set by cargo for integration tests only (this module is also compiled into an example).
pub const BIN: &str = match option_env!("CARGO_BIN_EXE_azureml-endpoint") {
    Some(path) => path,
    None => "azureml-endpoint",
};

/// Runs the binary with `args`, `stdin` and the test key in `AZUREML_ENDPOINT_API_KEY`
/// (plus `env`), and asserts the key is not in its output.
pub fn run_with<A: AsRef<OsStr>>(args: &[A], stdin: &[u8], env: &[(&str, &OsStr)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_clear()
        .env("AZUREML_ENDPOINT_API_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!all.contains(KEY), "the key leaked into the output: {all}");
    output
}

pub fn run<A: AsRef<OsStr>>(args: &[A]) -> Output {
    run_with(args, b"", &[])
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// `batch` progress lines with their rate and time (which vary) as `…`.
pub fn steady(stderr: &str) -> String {
    stderr
        .split_inclusive('\n')
        .map(|line| match line.rsplit_once("; ") {
            Some((fixed, _)) if line.starts_with("batch: ") && line.contains(" lines/s") => {
                format!("{fixed}; …{}", if line.ends_with('\n') { "\n" } else { "" })
            }
            _ => line.to_owned(),
        })
        .collect()
}

/// Exit code, stdout, stderr: one value to compare whole.
pub fn outcome(output: &Output) -> (Option<i32>, String, String) {
    (output.status.code(), stdout(output), stderr(output))
}
