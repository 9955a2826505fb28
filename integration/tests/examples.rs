//! Every example of lxd-client, run as a user runs it: against the real daemon (through the
//! same environment variables a user sets, `LXD_SOCKET`, `LXD_PROJECT`, `LXD_IMAGE`), and
//! against its embedded lxd-testkit fallback (`LXD_EXAMPLE_EMBEDDED=1`).
//!
//! The binaries come from `cargo build -p lxd-client --examples`, which `cargo xtask
//! integration` runs first and names in `LXD_IT_EXAMPLES` (a directory). Outside the harness
//! the tests look in this build's own `target/<profile>/examples` and skip, loudly, when
//! the examples were not built.
//!
//! Each example exits non-zero when what it checks fails (a pulled file that differs, an
//! event that never comes...); the tests also look for the lines that show it ran to the end
//! on the server meant.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use lxd_integration::{Env, require};

/// Longer than any example needs on a loaded machine; a hang fails instead of blocking CI.
const LIMIT: Duration = Duration::from_secs(300);

/// Where the example binaries are, or `None` after a loud skip.
fn examples_dir(test: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LXD_IT_EXAMPLES").filter(|d| !d.is_empty()) {
        return Some(dir.into());
    }
    assert!(
        std::env::var("LXD_IT").as_deref() != Ok("1"),
        "LXD_IT=1 but LXD_IT_EXAMPLES is not set: the harness builds the examples and names them"
    );
    // target/<profile>/deps/examples-<hash> -> target/<profile>/examples
    let dir = std::env::current_exe()
        .ok()?
        .parent()?
        .parent()?
        .join("examples");
    if dir.join("quickstart").exists() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED {test}: the examples are not built (`cargo build -p lxd-client --examples`)"
        );
        None
    }
}

/// What a finished example printed.
struct Run {
    stdout: String,
    stderr: String,
}

impl Run {
    fn expect(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "expected {text:?} in the example's output:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs one example binary with `args`, against the real daemon of `env` or (when `None`)
/// against the embedded testkit server, and checks it exited 0 on the server meant.
async fn run(dir: PathBuf, name: &str, args: &[&str], env: Option<&Env>) -> Run {
    let mut cmd = tokio::process::Command::new(dir.join(name));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Only what the test chooses says where LXD is.
    for var in [
        "LXD_URL",
        "LXD_SOCKET",
        "LXD_DIR",
        "LXD_PROJECT",
        "LXD_IMAGE",
        "LXD_TARGET_SOCKET",
        "LXD_EXAMPLE_EMBEDDED",
        "LXD_MIGRATION_MODE",
    ] {
        cmd.env_remove(var);
    }
    match env {
        Some(env) => {
            cmd.env("LXD_SOCKET", &env.socket)
                .env("LXD_PROJECT", &env.project)
                .env("LXD_IMAGE", &env.image);
        }
        None => {
            cmd.env("LXD_EXAMPLE_EMBEDDED", "1");
        }
    }
    if name == "migrate"
        && env.is_some()
        && let Some(second) = std::env::var_os("LXD_IT_SECOND_SOCKET")
    {
        cmd.env("LXD_TARGET_SOCKET", second);
    }
    let output = tokio::time::timeout(LIMIT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("example {name} still running after {LIMIT:?}"))
        .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"));
    let run = Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        output.status.success(),
        "example {name} {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        run.stdout,
        run.stderr
    );
    // The fallback says so: a run meant for the real daemon must not have fallen back.
    let embedded = run.stdout.contains("Using an embedded lxd-testkit server");
    assert_eq!(
        embedded,
        env.is_none(),
        "example {name} ran against the wrong server:\n{}",
        run.stdout
    );
    run
}

/// One test per example and server: `real` needs the harness's daemon, `embedded` only the
/// binaries.
macro_rules! example_tests {
    ($($name:ident $args:expr => $($expect:literal),+;)+) => {
        mod real {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let env = require!();
                    let Some(dir) = examples_dir(module_path!()) else { return };
                    let run = run(dir, stringify!($name), &$args, Some(&env)).await;
                    $( run.expect($expect); )+
                }
            )+
        }
        mod embedded {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(dir) = examples_dir(module_path!()) else { return };
                    let run = run(dir, stringify!($name), &$args, None).await;
                    $( run.expect($expect); )+
                }
            )+
        }
    };
}

example_tests! {
    quickstart [] => "instance(s):";
    list [] => "instance(s)", "image(s)";
    launch_exec [] => "started lxdrs-example", "cat echoed", "deleted lxdrs-example";
    files_progress [] => "identical: true";
    image_upload_progress [] => "deleted the image";
    // Follows until the demo container's deletion event arrives.
    tail_events ["0", "--demo"] => "following events of", "instance-deleted";
    remote_https_token [] => "visible over HTTPS", "removed the demo's trust entry";
    migrate [] => "moved", "deleted lxdrs-migrate";
}
