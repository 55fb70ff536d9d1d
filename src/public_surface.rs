//! Pins the public item surface (the crate root and its public modules) so it changes only on
//! purpose: a change fails here until `fixtures/public-api.txt` is updated with it, which makes
//! every addition or removal a visible line in review. `UPDATE_PUBLIC_API=1 cargo test --lib
//! public_surface` rewrites the file.

/// The public modules' sources, by path from the crate root.
const MODULES: &[(&str, &str)] = &[
    ("", include_str!("lib.rs")),
    ("config", include_str!("config.rs")),
    ("credential", include_str!("credential/mod.rs")),
    ("embeddings", include_str!("embeddings.rs")),
    ("error", include_str!("error.rs")),
    ("formatter", include_str!("formatter/mod.rs")),
    ("local", include_str!("local.rs")),
];

const PINNED: &str = include_str!("../fixtures/public-api.txt");

/// `module::name` for each item a module declares or re-exports at its top level.
fn surface() -> Vec<String> {
    let mut items = Vec::new();
    for (module, source) in MODULES {
        let prefix = if module.is_empty() {
            String::new()
        } else {
            format!("{module}::")
        };
        let mut text = source.to_string();
        // Top-level items only: the module's own tests are not public.
        if let Some(tests) = text.find("\n#[cfg(test)]\nmod tests") {
            text.truncate(tests);
        }
        let mut rest = text.as_str();
        while let Some(start) = rest.find("\npub ") {
            rest = &rest[start + 5..];
            if let Some(decl) = rest.strip_prefix("use ") {
                let decl = &decl[..decl.find(';').unwrap_or(decl.len())];
                let names: Vec<&str> = match (decl.find('{'), decl.rfind('}')) {
                    (Some(open), Some(close)) => decl[open + 1..close].split(',').collect(),
                    _ => vec![decl],
                };
                for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
                    let name = name.rsplit("::").next().unwrap_or(name);
                    items.push(format!("{prefix}{name}"));
                }
                continue;
            }
            let end = rest
                .find([';', '{', '(', '<', '=', ':', '\n'])
                .unwrap_or(rest.len());
            if let Some((kind, name)) = rest[..end].trim().rsplit_once(' ') {
                items.push(format!("{prefix}{name} ({kind})"));
            }
        }
    }
    items
}

#[test]
fn the_public_surface_changes_only_on_purpose() {
    let now = surface().join("\n") + "\n";
    if std::env::var_os("UPDATE_PUBLIC_API").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/public-api.txt");
        std::fs::write(path, &now).expect("write fixtures/public-api.txt");
        return;
    }
    assert!(
        now == PINNED,
        "the public surface changed; if on purpose, run `UPDATE_PUBLIC_API=1 cargo test --lib \
         public_surface` and commit fixtures/public-api.txt. Now:\n{now}"
    );
}

#[test]
fn the_crate_root_stays_small() {
    let root = surface().iter().filter(|item| !item.contains("::")).count();
    assert!(
        root <= 45,
        "{root} names at the crate root; details belong in modules"
    );
}
