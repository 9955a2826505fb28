//! Fidelity with the real `lxc` command (Debian's lxd-client 5.0): it talks to the testkit
//! over the unix socket (`LXD_DIR`, `LXD_SOCKET`, `--force-local`, a private `LXD_CONF`) and
//! must behave as against a real LXD: output, exit codes and error messages.
//!
//! Without `lxc` these tests print a loud SKIPPED line, unless `CI` or `LXD_IT` is set: then
//! a missing `lxc` is a failure.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use lxd_testkit::TestServer;
use tokio::io::AsyncWriteExt;

/// `lxc`, or `None` after saying loudly why the test is skipped.
fn find_lxc(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("lxc"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        let required = std::env::var_os("CI").is_some() || std::env::var_os("LXD_IT").is_some();
        assert!(
            !required,
            "{test}: the `lxc` command is required (CI or LXD_IT is set) but is not installed \
             (Debian: apt-get install lxd-client)"
        );
        eprintln!(
            "\n*** SKIPPED {test}: the `lxc` command is not installed (Debian: apt-get install \
             lxd-client); the lxc fidelity tests did NOT run ***\n"
        );
    }
    found
}

/// One `lxc` invocation's outcome.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `lxc` against one test server with its own config directory.
struct Lxc {
    program: PathBuf,
    dir: PathBuf,
    socket: PathBuf,
    conf: PathBuf,
}

impl Lxc {
    fn new(program: PathBuf, server: &TestServer, test: &str) -> Lxc {
        let conf = server.dir().join(format!("lxc-conf-{test}"));
        std::fs::create_dir_all(&conf).unwrap();
        Lxc {
            program,
            dir: server.dir().to_path_buf(),
            socket: server.socket_path().to_path_buf(),
            conf,
        }
    }

    async fn run_with(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .arg("--force-local")
            .args(args)
            .env("LXD_DIR", &self.dir)
            .env("LXD_SOCKET", &self.socket)
            .env("LXD_CONF", &self.conf)
            .env_remove("LXD_REMOTE")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("lxc starts");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(input).await.unwrap();
            drop(pipe);
        }
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("lxc {args:?} did not finish within 60 s"))
            .unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    async fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None).await
    }

    /// Runs and insists on success.
    async fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args).await;
        assert_eq!(run.code, 0, "lxc {args:?} failed: {run:?}");
        run
    }
}

async fn setup(test: &str) -> Option<(TestServer, Lxc)> {
    let program = find_lxc(test)?;
    let server = TestServer::start().await.expect("server starts");
    let lxc = Lxc::new(program, &server, test);
    Some((server, lxc))
}

/// CSV rows of `lxc <what> list -f csv`.
fn rows(run: &Run) -> Vec<Vec<String>> {
    run.stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_info_shows_the_trusted_server() {
    let Some((server, lxc)) = setup("info").await else {
        return;
    };
    let run = lxc.ok(&["info"]).await;
    assert!(run.stdout.contains("auth: trusted"), "{}", run.stdout);
    assert!(
        run.stdout.contains("server_version: 5.0.2"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "certificate_fingerprint: {}",
            server.certificate_fingerprint()
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("- instances"), "api_extensions listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_launch_list_stop_delete() {
    let Some((server, lxc)) = setup("lifecycle").await else {
        return;
    };
    assert!(rows(&lxc.ok(&["list", "-f", "csv", "-c", "ns"]).await).is_empty());

    let launch = lxc.ok(&["launch", "busybox", "t1"]).await;
    assert!(launch.stdout.contains("Creating t1"), "{launch:?}");
    assert!(launch.stdout.contains("Starting t1"), "{launch:?}");
    assert_eq!(server.instance_names("default"), ["t1"]);
    assert_eq!(
        rows(&lxc.ok(&["list", "-f", "csv", "-c", "nst"]).await),
        [["t1", "RUNNING", "CONTAINER"]]
    );

    // Deleting a running instance is refused, by lxc itself after asking the server.
    let refused = lxc.run(&["delete", "t1"]).await;
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("The instance is currently running, stop it first or pass --force"),
        "{refused:?}"
    );
    // The server's own refusal, through a raw query.
    let raw = lxc
        .run(&["query", "-X", "DELETE", "/1.0/instances/t1"])
        .await;
    assert_eq!(raw.code, 1);
    assert!(raw.stderr.contains("Instance is running"), "{raw:?}");

    lxc.ok(&["stop", "t1"]).await;
    assert_eq!(
        rows(&lxc.ok(&["list", "-f", "csv", "-c", "ns"]).await),
        [["t1", "STOPPED"]]
    );
    let again = lxc.run(&["stop", "t1"]).await;
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("The instance is already stopped"),
        "{again:?}"
    );

    lxc.ok(&["delete", "t1"]).await;
    assert!(rows(&lxc.ok(&["list", "-f", "csv"]).await).is_empty());
    assert!(server.instance_names("default").is_empty());
    let missing = lxc.run(&["delete", "t1"]).await;
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("Instance not found"), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_exec_output_and_exit_codes() {
    let Some((_server, lxc)) = setup("exec").await else {
        return;
    };
    lxc.ok(&["launch", "busybox", "t1"]).await;

    let hi = lxc.run(&["exec", "t1", "--", "echo", "hi"]).await;
    assert_eq!((hi.code, hi.stdout.as_str()), (0, "hi\n"), "{hi:?}");

    let three = lxc
        .run(&[
            "exec",
            "t1",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ])
        .await;
    assert_eq!(three.code, 3, "{three:?}");
    assert_eq!(three.stdout, "out\n");
    assert_eq!(three.stderr, "err\n");

    let piped = lxc
        .run_with(&["exec", "-T", "t1", "--", "cat"], Some(b"through stdin\n"))
        .await;
    assert_eq!(
        (piped.code, piped.stdout.as_str()),
        (0, "through stdin\n"),
        "{piped:?}"
    );

    let env = lxc
        .run(&["exec", "t1", "--env", "FOO=bar", "--", "env"])
        .await;
    assert!(env.stdout.contains("FOO=bar\n"), "{env:?}");
    assert!(env.stdout.contains("HOME=/root\n"), "{env:?}");

    let cwd = lxc.run(&["exec", "t1", "--cwd", "/tmp", "--", "pwd"]).await;
    assert_eq!(cwd.stdout, "/tmp\n");

    let zeros = lxc
        .run(&["exec", "t1", "--", "head", "-c", "100000", "/dev/zero"])
        .await;
    assert_eq!(zeros.code, 0);
    assert_eq!(zeros.stdout.len(), 100_000);
    assert!(zeros.stdout.bytes().all(|b| b == 0));

    let missing = lxc.run(&["exec", "t1", "--", "nosuchcommand"]).await;
    assert_ne!(missing.code, 0);
    assert!(missing.stderr.contains("Command not found"), "{missing:?}");

    lxc.ok(&["stop", "t1", "--force"]).await;
    let stopped = lxc.run(&["exec", "t1", "--", "true"]).await;
    assert_eq!(stopped.code, 1);
    assert!(
        stopped.stderr.contains("Instance is not running"),
        "{stopped:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_file_push_and_pull() {
    let Some((server, lxc)) = setup("files").await else {
        return;
    };
    lxc.ok(&["launch", "busybox", "t1"]).await;
    let local = server.dir().join("files-test");
    std::fs::create_dir_all(&local).unwrap();
    let source = local.join("data.bin");
    let contents: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&source, &contents).unwrap();

    lxc.ok(&[
        "file",
        "push",
        "--mode",
        "0640",
        path(&source),
        "t1/root/data.bin",
    ])
    .await;
    let target = local.join("back.bin");
    lxc.ok(&["file", "pull", "t1/root/data.bin", path(&target)])
        .await;
    assert_eq!(std::fs::read(&target).unwrap(), contents);

    // The instance sees the same file.
    let size = lxc
        .run(&[
            "exec",
            "t1",
            "--",
            "sh",
            "-c",
            "cat /root/data.bin | head -c 5",
        ])
        .await;
    assert_eq!(size.stdout.as_bytes(), &contents[..5]);

    // A directory tree, recursively.
    let tree = local.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("sub/a.txt"), "alpha\n").unwrap();
    lxc.ok(&["file", "push", "-r", path(&tree), "t1/tmp/"])
        .await;
    let cat = lxc
        .ok(&["exec", "t1", "--", "cat", "/tmp/tree/sub/a.txt"])
        .await;
    assert_eq!(cat.stdout, "alpha\n");

    let missing = lxc
        .run(&["file", "pull", "t1/nope", path(&local.join("x"))])
        .await;
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("Not Found"), "{missing:?}");

    lxc.ok(&["file", "delete", "t1/root/data.bin"]).await;
    let gone = lxc
        .run(&["exec", "t1", "--", "cat", "/root/data.bin"])
        .await;
    assert_eq!(gone.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_snapshot() {
    let Some((_server, lxc)) = setup("snapshot").await else {
        return;
    };
    lxc.ok(&["launch", "busybox", "t1"]).await;
    lxc.ok(&["snapshot", "t1", "s0"]).await;
    assert_eq!(
        rows(&lxc.ok(&["list", "-f", "csv", "-c", "nS"]).await),
        [["t1", "1"]]
    );
    let info = lxc.ok(&["info", "t1"]).await;
    assert!(info.stdout.contains("Snapshots:"), "{}", info.stdout);
    assert!(info.stdout.contains("s0"), "{}", info.stdout);
    let dup = lxc.run(&["snapshot", "t1", "s0"]).await;
    assert_eq!(dup.code, 1);
    assert!(dup.stderr.contains("already exists"), "{dup:?}");

    // Restore brings the file system back.
    lxc.ok(&[
        "exec",
        "t1",
        "--",
        "sh",
        "-c",
        "echo changed > /etc/hostname",
    ])
    .await;
    lxc.ok(&["restore", "t1", "s0"]).await;
    let hostname = lxc.ok(&["exec", "t1", "--", "cat", "/etc/hostname"]).await;
    assert_eq!(hostname.stdout, "busybox\n");
    lxc.ok(&["delete", "t1/s0"]).await;
    assert_eq!(
        rows(&lxc.ok(&["list", "-f", "csv", "-c", "nS"]).await),
        [["t1", "0"]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_lists_images_profiles_networks_storage() {
    let Some((_server, lxc)) = setup("lists").await else {
        return;
    };
    let images = rows(&lxc.ok(&["image", "list", "-f", "csv", "-c", "lat"]).await);
    assert_eq!(images, [["busybox", "x86_64", "CONTAINER"]]);
    let profiles = rows(&lxc.ok(&["profile", "list", "-f", "csv"]).await);
    assert_eq!(profiles[0][0], "default");
    let networks = rows(&lxc.ok(&["network", "list", "-f", "csv"]).await);
    assert!(
        networks
            .iter()
            .any(|r| r[0] == "eth0" && r[1] == "physical"),
        "{networks:?}"
    );
    let pools = rows(&lxc.ok(&["storage", "list", "-f", "csv"]).await);
    assert_eq!(pools[0][0], "default");
    assert_eq!(pools[0][1], "dir");

    // Creating and deleting through lxc goes through the same API.
    lxc.ok(&["profile", "create", "web"]).await;
    lxc.ok(&["profile", "set", "web", "limits.cpu", "2"]).await;
    let web = lxc.ok(&["profile", "get", "web", "limits.cpu"]).await;
    assert_eq!(web.stdout, "2\n");
    lxc.ok(&[
        "network",
        "create",
        "tkbr0",
        "ipv4.address=none",
        "ipv6.address=none",
    ])
    .await;
    assert!(
        rows(&lxc.ok(&["network", "list", "-f", "csv"]).await)
            .iter()
            .any(|r| r[0] == "tkbr0" && r[2] == "YES")
    );
    lxc.ok(&["network", "delete", "tkbr0"]).await;
    lxc.ok(&["storage", "volume", "create", "default", "vol1"])
        .await;
    let volumes = lxc
        .ok(&["storage", "volume", "list", "default", "-f", "csv"])
        .await;
    assert!(volumes.stdout.contains("vol1"), "{volumes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_image_publish_export_import() {
    let Some((server, lxc)) = setup("images").await else {
        return;
    };
    lxc.ok(&["launch", "busybox", "t1"]).await;
    lxc.ok(&["exec", "t1", "--", "sh", "-c", "echo custom > /root/mark"])
        .await;
    lxc.ok(&["stop", "t1"]).await;
    let published = lxc.ok(&["publish", "t1", "--alias", "mine"]).await;
    assert!(
        published
            .stdout
            .contains("Instance published with fingerprint:"),
        "{published:?}"
    );
    let target = server.dir().join("exported");
    lxc.ok(&["image", "export", "mine", path(&target)]).await;
    let file = server.dir().join("exported.tar");
    let bytes = std::fs::read(&file).expect("lxc names the file after the image's format");
    assert_eq!(
        &bytes[257..262],
        b"ustar",
        "a real (uncompressed) image tarball"
    );
    lxc.ok(&["image", "delete", "mine"]).await;
    lxc.ok(&["image", "import", path(&file), "--alias", "again"])
        .await;
    lxc.ok(&["launch", "again", "t2"]).await;
    let mark = lxc.ok(&["exec", "t2", "--", "cat", "/root/mark"]).await;
    assert_eq!(mark.stdout, "custom\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_operation_list() {
    let Some((_server, lxc)) = setup("operations").await else {
        return;
    };
    lxc.ok(&["launch", "busybox", "t1"]).await;
    let ops = lxc.ok(&["operation", "list", "-f", "csv"]).await;
    let descriptions: Vec<String> = rows(&ops).iter().map(|r| r[2].clone()).collect();
    assert!(
        descriptions.contains(&"Creating instance".to_string()),
        "{ops:?}"
    );
    assert!(
        descriptions.contains(&"Starting instance".to_string()),
        "{ops:?}"
    );
    assert!(rows(&ops).iter().all(|r| r[3] == "SUCCESS"), "{ops:?}");
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `lxc` against a real LXD daemon given by the integration harness (`LXD_IT=1`,
/// `LXD_IT_SOCKET`, `LXD_IT_IMAGE`).
fn real_lxd(program: &Path, conf: &Path) -> Option<Lxc> {
    let socket = std::env::var_os("LXD_IT_SOCKET")?;
    let socket = PathBuf::from(socket);
    Some(Lxc {
        program: program.to_path_buf(),
        dir: socket.parent()?.to_path_buf(),
        socket,
        conf: conf.to_path_buf(),
    })
}

/// The same `lxc` session against a real LXD and against the testkit: exit codes, output
/// and error messages must be the same. Needs the integration harness (`LXD_IT=1`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxc_sees_the_same_as_with_a_real_lxd() {
    let Some(program) = find_lxc("same_as_real_lxd") else {
        return;
    };
    if std::env::var_os("LXD_IT").is_none() {
        eprintln!(
            "\n*** SKIPPED lxc_sees_the_same_as_with_a_real_lxd: needs a real LXD from the \
             integration harness (LXD_IT=1, LXD_IT_SOCKET) ***\n"
        );
        return;
    }
    let server = TestServer::start().await.unwrap();
    let testkit = Lxc::new(program.clone(), &server, "compare");
    let real_conf = server.dir().join("lxc-conf-real");
    std::fs::create_dir_all(&real_conf).unwrap();
    let real =
        real_lxd(&program, &real_conf).expect("LXD_IT_SOCKET names the real daemon's socket");
    let image = std::env::var("LXD_IT_IMAGE").unwrap_or_else(|_| "busybox".into());
    let name = format!("tkcmp-{}", std::process::id());
    let local = server.dir().join("compare.txt");
    std::fs::write(&local, "same on both\n").unwrap();
    let pulled = |which: &str| server.dir().join(format!("pulled-{which}.txt"));

    // (arguments with NAME for the instance, stdin, what to compare)
    let script: Vec<(Vec<String>, Option<&[u8]>)> = [
        (vec!["launch", "IMAGE", "NAME"], None),
        (vec!["exec", "NAME", "--", "echo", "hi"], None),
        (
            vec![
                "exec",
                "NAME",
                "--",
                "sh",
                "-c",
                "echo out; echo err >&2; exit 3",
            ],
            None,
        ),
        (
            vec!["exec", "-T", "NAME", "--", "cat"],
            Some(&b"through stdin\n"[..]),
        ),
        (vec!["exec", "NAME", "--", "nosuchcommand"], None),
        (vec!["exec", "NAME", "--cwd", "/tmp", "--", "pwd"], None),
        (vec!["exec", "NAME", "--", "cat", "/nonexistent"], None),
        (vec!["file", "push", "LOCAL", "NAME/root/compare.txt"], None),
        (
            vec!["file", "pull", "NAME/root/compare.txt", "PULLED"],
            None,
        ),
        (
            vec!["file", "pull", "NAME/root/nonexistent", "PULLED"],
            None,
        ),
        (vec!["snapshot", "NAME", "s0"], None),
        (vec!["delete", "NAME"], None),
        (vec!["query", "-X", "DELETE", "/1.0/instances/NAME"], None),
        (vec!["stop", "NAME", "--force"], None),
        (vec!["stop", "NAME"], None),
        (vec!["exec", "NAME", "--", "true"], None),
        (
            vec!["query", "/1.0/instances/NAME/snapshots/nonexistent"],
            None,
        ),
        (vec!["delete", "NAME"], None),
        (vec!["query", "/1.0/instances/NAME"], None),
    ]
    .into_iter()
    .map(|(args, stdin)| (args.into_iter().map(String::from).collect(), stdin))
    .collect();

    let mut differences = Vec::new();
    for (args, stdin) in &script {
        let mut outcomes = Vec::new();
        for (which, lxc) in [("real", &real), ("testkit", &testkit)] {
            let args: Vec<String> = args
                .iter()
                .map(|a| {
                    a.replace("NAME", &name)
                        .replace("IMAGE", &image)
                        .replace("LOCAL", path(&local))
                        .replace("PULLED", path(&pulled(which)))
                })
                .collect();
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = lxc.run_with(&refs, *stdin).await;
            // Progress lines (rewritten in place with `\r`, percentages, "Remapping ...")
            // and lxc's hints about networks differ by timing and host, not behaviour.
            let clean = |text: &str| {
                text.lines()
                    .map(|l| l.rsplit('\r').next().unwrap_or_default().trim().to_string())
                    .filter(|l| {
                        !l.is_empty()
                            && !l.contains('%')
                            && !l.contains("network")
                            && !l.starts_with("Remapping")
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            outcomes.push((run.code, clean(&run.stdout), clean(&run.stderr)));
        }
        // The shared daemon can be too loaded to answer in time: that says nothing about
        // the testkit.
        let unreachable = ["i/o timeout", "connection refused", "close 1006"];
        if unreachable.iter().any(|u| outcomes[0].2.contains(u)) {
            eprintln!(
                "lxc {args:?}: the real LXD did not answer ({}); not compared",
                outcomes[0].2
            );
            continue;
        }
        if outcomes[0] != outcomes[1] {
            differences.push(format!(
                "lxc {args:?}\n  real:    {:?}\n  testkit: {:?}",
                outcomes[0], outcomes[1]
            ));
        }
    }
    // Leave nothing behind on the shared daemon.
    let _ = real.run(&["delete", "--force", &name]).await;
    assert_eq!(
        std::fs::read(pulled("real")).ok(),
        std::fs::read(pulled("testkit")).ok()
    );
    assert!(
        differences.is_empty(),
        "lxc saw differences:\n{}",
        differences.join("\n")
    );
}
