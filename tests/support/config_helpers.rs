//! Helpers for the config-file tests: temp folders, fixture paths, an injected environment.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use azureml_endpoint::{Error, LoadOptions};

/// A fresh folder under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "azureml-config-tests-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub fn root(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file from `fixtures/python-saved/` (exact bytes LangChain Python's `save()` wrote).
pub fn python_saved(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/python-saved")
        .join(name)
}

/// Options whose env vars are exactly `vars`: tests never read or change the process env.
pub fn with_env(vars: &[(&str, &str)]) -> LoadOptions {
    LoadOptions::new().env_vars(vars.iter().copied())
}

/// The error's message, for exact comparisons.
pub fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
    result.expect_err("expected an error").to_string()
}
