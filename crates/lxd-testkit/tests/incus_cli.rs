//! The real `incus` command (Incus 6.0) against the testkit in Incus mode, over the unix
//! socket (`INCUS_DIR`, `INCUS_SOCKET`, `--force-local`, a private `INCUS_CONF`): server
//! information, an image import whose `--public` travels as `X-Incus-public`, launch, list
//! and exec. (Its `file` commands speak SFTP, which the testkit does not serve.)
//!
//! Without `incus` these tests print a loud SKIPPED line.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use lxd_testkit::TestServer;

/// `incus`, or `None` after saying loudly why the test is skipped.
fn find_incus(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("incus"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        eprintln!(
            "\n*** SKIPPED {test}: the `incus` command is not installed (Debian bookworm-backports: \
             apt-get install incus-client); the incus CLI test did NOT run ***\n"
        );
    }
    found
}

struct Incus {
    program: PathBuf,
    server: TestServer,
    conf: PathBuf,
}

impl Incus {
    /// Runs `incus --force-local ARGS`: exit code, stdout, stderr.
    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .arg("--force-local")
            .args(args)
            .envs(self.server.incus_env())
            .env("INCUS_CONF", &self.conf)
            .env_remove("INCUS_REMOTE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let output = tokio::time::timeout(
            Duration::from_secs(60),
            command.spawn().expect("incus starts").wait_with_output(),
        )
        .await
        .unwrap_or_else(|_| panic!("incus {args:?} did not finish within 60 s"))
        .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (code, stdout, stderr) = self.run(args).await;
        assert_eq!(code, 0, "incus {args:?} failed: {stdout}{stderr}");
        stdout
    }
}

/// A small unified image tarball (uncompressed: the testkit reads those) made with the
/// system's `tar`.
fn image_tarball(dir: &Path) -> PathBuf {
    let root = dir.join("image-src");
    std::fs::create_dir_all(root.join("rootfs/bin")).unwrap();
    std::fs::write(
        root.join("metadata.yaml"),
        "architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: from-metadata\n",
    )
    .unwrap();
    std::fs::write(root.join("rootfs/bin/marker"), "incus cli test\n").unwrap();
    let tarball = dir.join("image.tar");
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tarball)
        .args(["metadata.yaml", "rootfs"])
        .status()
        .expect("tar runs");
    assert!(status.success());
    tarball
}

#[tokio::test]
async fn incus_command_takes_the_testkit_for_incus() {
    let Some(program) = find_incus("incus_command_takes_the_testkit_for_incus") else {
        return;
    };
    let server = TestServer::builder().incus().start().await.unwrap();
    let conf = server.dir().join("incus-conf");
    std::fs::create_dir_all(&conf).unwrap();
    let tarball = image_tarball(server.dir());
    let incus = Incus {
        program,
        server,
        conf,
    };

    let info = incus.ok(&["info"]).await;
    assert!(info.contains("server: incus"), "{info}");
    assert!(info.contains("server_version: 6.0.4"), "{info}");

    // --public goes out as X-Incus-public: an LXD-spelled header would be ignored.
    incus
        .ok(&[
            "image",
            "import",
            tarball.to_str().unwrap(),
            "--alias",
            "mine",
            "--public",
        ])
        .await;
    let image = incus.ok(&["image", "info", "mine"]).await;
    assert!(image.contains("Public: yes"), "{image}");
    assert!(image.contains("os: from-metadata"), "{image}");

    incus.ok(&["launch", "busybox", "t1"]).await;
    let list = incus.ok(&["list", "-f", "csv", "-c", "ns"]).await;
    assert_eq!(list.trim(), "t1,RUNNING");
    let (code, stdout, _) = incus
        .run(&["exec", "t1", "--", "sh", "-c", "echo from-incus; exit 3"])
        .await;
    assert_eq!((code, stdout.as_str()), (3, "from-incus\n"));
}
