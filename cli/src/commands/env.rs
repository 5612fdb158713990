//! `convox env`: show, get, set, unset, edit. Every change makes one new release.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Read};

use kube::ResourceExt;
use slipway_crds::env::{self, Env};
use slipway_crds::id::display_id;

use crate::args::{EnvWriteOpts, ReadOpts};
use crate::context::Ctx;
use crate::envchange::{self, EnvEdit};
use crate::error::{Error, Result};
use crate::output::releases::{env_text, masked};
use crate::output::{Term, keys_step, mask_keys, render};
use crate::{rollout, store};

/// The environment env commands read, and its secret keys.
async fn current(ctx: &Ctx, release: Option<&str>) -> Result<(Env, Vec<String>, bool)> {
    let app = store::get_app(ctx).await?;
    match envchange::base_release(ctx, &app, release).await? {
        Some(release) => {
            let (env, hidden) = store::release_env_for_display(ctx, &release).await?;
            Ok((env, release.spec.secret_keys.clone(), hidden))
        }
        None => Ok((Env::new(), Vec::new(), false)),
    }
}

/// `convox env`: `KEY=VALUE` lines, secret values masked on a terminal unless `--reveal`.
pub async fn show(
    ctx: &Ctx,
    term: &mut Term,
    release: Option<&str>,
    reveal: bool,
    read: &ReadOpts,
) -> Result<()> {
    let (env, secret, hidden) = current(ctx, release).await?;
    if hidden {
        eprintln!("WARNING: you may not read the environment values: showing keys only");
    }
    let shown = masked(&env, &mask_keys(term, reveal, &secret));
    term.text(&render(read.output, &shown, || env_text(&shown))?);
    Ok(())
}

/// `convox env get KEY`: the value alone.
pub async fn get(ctx: &Ctx, term: &mut Term, key: &str, release: Option<&str>) -> Result<()> {
    env::validate_key(key)?;
    let (env, _, hidden) = current(ctx, release).await?;
    match env.get(key) {
        Some(_) if hidden => Err(Error::NeedsEnvReader("env get".to_string())),
        Some(value) => {
            term.line(value);
            Ok(())
        }
        None => Err(Error::EnvNotFound(key.to_string())),
    }
}

/// `convox env set K=V…`: `Setting K... OK`, `Release: R`, and the promotion with `-p`.
pub async fn set(
    ctx: &Ctx,
    term: &mut Term,
    pairs: &[String],
    replace: bool,
    secret: bool,
    write: &EnvWriteOpts,
) -> Result<()> {
    let from_stdin;
    let pairs = if pairs.is_empty() {
        // Convox reads KEY=VALUE lines from a stdin that is not a terminal (`env set < .env`).
        if std::io::stdin().is_terminal() {
            return Err(Error::Usage("at least 1 arg required".into()));
        }
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|err| Error::Local(format!("reading stdin: {err}")))?;
        from_stdin = stdin_pairs(&text);
        if from_stdin.is_empty() {
            return Err(Error::Usage(
                "at least 1 arg required (no KEY=VALUE lines on stdin)".into(),
            ));
        }
        &from_stdin[..]
    } else {
        pairs
    };
    // Parsed before anything is read or written: a bad token changes nothing.
    let set = env::parse_assignments(pairs)?;
    let keys: BTreeSet<String> = set.iter().map(|(k, _)| k.clone()).collect();
    let edit = EnvEdit {
        set,
        replace,
        secret,
        ..EnvEdit::default()
    };
    let step = keys_step("Setting", &keys.into_iter().collect::<Vec<_>>());
    save(ctx, term, "env set", &step, &edit, write).await
}

/// The `KEY=VALUE` lines of stdin: blank lines and `#` comments skipped, each other line a pair.
pub fn stdin_pairs(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// `convox env mask`: the masked keys, one a line.
pub async fn masks(ctx: &Ctx, term: &mut Term, release: Option<&str>) -> Result<()> {
    let app = store::get_app(ctx).await?;
    let keys = match envchange::base_release(ctx, &app, release).await? {
        Some(release) => release.spec.secret_keys,
        None => vec![],
    };
    term.text(&format!("{}\n", keys.join("\n")));
    Ok(())
}

/// `convox env mask set K…` / `unset K…`: `Masking K... OK`, `Release: R`.
pub async fn mask(
    ctx: &Ctx,
    term: &mut Term,
    keys: &[String],
    on: bool,
    write: &EnvWriteOpts,
) -> Result<()> {
    for key in keys {
        env::validate_key(key)?;
    }
    let edit = EnvEdit {
        mask: if on { keys.to_vec() } else { vec![] },
        unmask: if on { vec![] } else { keys.to_vec() },
        ..EnvEdit::default()
    };
    let (verb, command) = if on {
        ("Masking", "env mask set")
    } else {
        ("Unmasking", "env mask unset")
    };
    save(ctx, term, command, &keys_step(verb, keys), &edit, write).await
}

/// `convox env unset K…`: `Unsetting K... OK`, `Release: R`.
pub async fn unset(
    ctx: &Ctx,
    term: &mut Term,
    keys: &[String],
    write: &EnvWriteOpts,
) -> Result<()> {
    for key in keys {
        env::validate_key(key)?;
    }
    let edit = EnvEdit {
        unset: keys.to_vec(),
        ..EnvEdit::default()
    };
    let step = keys_step("Unsetting", keys);
    save(ctx, term, "env unset", &step, &edit, write).await
}

/// `convox env edit`: the environment in `$VISUAL`/`$EDITOR`; saving makes a release.
pub async fn edit(ctx: &Ctx, term: &mut Term, write: &EnvWriteOpts) -> Result<()> {
    let app = store::get_app(ctx).await?;
    let base = envchange::base_release(ctx, &app, write.release.as_deref()).await?;
    let before = match &base {
        Some(release) => store::release_env(ctx, release)
            .await
            .map_err(|err| err.in_command("env edit"))?,
        None => Env::new(),
    };
    let after = env::parse_editable(&run_editor(&env::to_editable(&before)).await?)?;
    let edit = envchange::edit_between(&before, &after);
    if edit.set.is_empty() && edit.unset.is_empty() {
        term.line("No changes");
        return Ok(());
    }
    let mut step = Vec::new();
    if !edit.set.is_empty() {
        let mut keys: Vec<String> = edit.set.iter().map(|(k, _)| k.clone()).collect();
        keys.sort();
        step.push(keys_step("Setting", &keys));
    }
    if !edit.unset.is_empty() {
        step.push(keys_step("unsetting", &edit.unset));
    }
    let mut step = step.join(" and ");
    step[..1].make_ascii_uppercase();
    // The edit is saved as its sets and unsets, so a change someone saved while the editor
    // was open is kept rather than overwritten.
    save(ctx, term, "env edit", &step, &edit, write).await
}

/// Saves an edit as a new release (see envchange), prints it, and promotes it when asked.
async fn save(
    ctx: &Ctx,
    term: &mut Term,
    command: &str,
    step: &str,
    edit: &EnvEdit,
    write: &EnvWriteOpts,
) -> Result<()> {
    store::get_app(ctx).await?;
    term.start(step);
    // Every env change reads the values it changes: only people who may read them change them.
    let release = envchange::commit(ctx, edit, write.release.as_deref())
        .await
        .map_err(|err| err.in_command(command))?;
    let id = display_id(&release.name_any());
    term.ok();
    term.line(&format!("Release: {id}"));
    if write.promote {
        rollout::promote(ctx, term, &release, &write.opts, true).await?;
    }
    term.result_id(&id);
    Ok(())
}

/// Runs the person's editor on `text` in a private temporary file and returns what was saved.
async fn run_editor(text: &str) -> Result<String> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_string());
    let name = format!(
        "convox-env-{}.env",
        slipway_crds::id::new_id(slipway_crds::id::IdKind::Release)
    );
    let path = std::env::temp_dir().join(name);
    let local =
        |what: &str, err: std::io::Error| Error::Local(format!("{what} {}: {err}", path.display()));
    write_private(&path, text).map_err(|err| local("writing", err))?;
    // Through the shell, so EDITOR may carry arguments (`code --wait`).
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status()
        .await;
    let edited = std::fs::read_to_string(&path).map_err(|err| local("reading", err));
    let _ = std::fs::remove_file(&path);
    match status {
        Ok(s) if s.success() => edited,
        Ok(s) => Err(Error::Local(format!(
            "editor {editor} failed ({s}): nothing changed"
        ))),
        Err(err) => Err(Error::Local(format!("running editor {editor}: {err}"))),
    }
}

/// Writes a file only its owner may read: it holds env values.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_lines_are_pairs_and_a_bad_one_is_refused() {
        let pairs = stdin_pairs("# from .env\nFOO=bar\r\n\nURL=postgres://x?a=b\n");
        assert_eq!(pairs, ["FOO=bar", "URL=postgres://x?a=b"]);
        let bad = stdin_pairs("FOO=bar\noops\n");
        assert!(env::parse_assignments(&bad).is_err());
    }
}
