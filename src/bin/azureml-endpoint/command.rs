//! The commands and their names as typed.

/// What to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Complete,
    Chat,
    Embed,
    Batch,
    ConfigNew,
    ConfigShow,
    Check,
    Local,
}

use Command::*;

/// Each command as typed after the program name.
pub const COMMANDS: [(&str, Command); 8] = [
    ("complete", Complete),
    ("chat", Chat),
    ("embed", Embed),
    ("batch", Batch),
    ("config new", ConfigNew),
    ("config show", ConfigShow),
    ("check", Check),
    ("local", Local),
];

impl Command {
    pub fn name(self) -> &'static str {
        COMMANDS
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("", |(name, _)| name)
    }

    /// Whether the command reads the `AZUREML_*` env vars (`config new` writes only its flags).
    pub fn reads_env(self) -> bool {
        !matches!(self, ConfigNew | Local)
    }
}
