//! Files in instances against a real LXD: streamed round trips, owner and mode, append,
//! directories, symlinks, delete, recursive put and get, and recursive get that cannot be
//! made to write outside its destination. Independent checks go through `lxc exec` (a
//! different route into the container than the file API).

use std::future::Future;
use std::io::{Read, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use lxd_client::proto::{InstanceFileType, InstanceSource, InstanceStatePut, InstancesPost};
use lxd_client::{
    Client, DirOptions, Error, GetRecursiveOptions, OutsideLinks, PutOptions, PutRecursiveOptions,
};
use lxd_integration::{Env, kill_and_delete, require, unique};

// ---- helpers --------------------------------------------------------------------------------

/// Runs `body` with a fresh container (started when `running`), deleting it afterwards even
/// when `body` panics.
async fn with_container<F, Fut>(env: &Env, prefix: &str, running: bool, body: F)
where
    F: FnOnce(Client, String, Env) -> Fut,
    Fut: Future<Output = ()>,
{
    let client = env.client();
    let name = unique(prefix);
    client
        .instances()
        .create(&InstancesPost {
            name: name.clone(),
            source: InstanceSource::image_alias(&env.image),
            ..Default::default()
        })
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let outcome = AssertUnwindSafe(async {
        if running {
            client
                .instances()
                .set_state(&name, &InstanceStatePut::start())
                .await
                .unwrap()
                .wait()
                .await
                .unwrap();
        }
        body(client.clone(), name.clone(), env.clone()).await
    })
    .catch_unwind()
    .await;
    kill_and_delete(&client, &name).await.unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// `lxc exec` in the container (a route independent of the file API); stdout, trimmed.
fn lxc_exec(env: &Env, name: &str, command: &str) -> String {
    let mut cmd = Command::new("lxc");
    cmd.env("LXD_SOCKET", &env.socket);
    if let Some(dir) = env.socket.parent() {
        cmd.env("LXD_DIR", dir);
    }
    cmd.args([
        "--force-local",
        "exec",
        "--project",
        &env.project,
        name,
        "--",
    ])
    .args(["/bin/busybox", "sh", "-c", command]);
    let out = cmd.output().expect("running lxc");
    assert!(
        out.status.success(),
        "lxc exec {command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A fresh local directory, removed by the caller.
fn scratch(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(prefix));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `len` pseudo-random bytes (xorshift, seeded) to `path` in 1 MiB pieces.
fn write_random(path: &Path, len: usize, seed: u64) {
    let mut state = seed | 1;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut left = len;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = left.min(buf.len());
        for chunk in buf[..n].chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let bytes = state.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        file.write_all(&buf[..n]).unwrap();
        left -= n;
    }
    file.flush().unwrap();
}

/// Whether two local files hold the same bytes, compared piece by piece.
fn same_content(a: &Path, b: &Path) -> bool {
    let (mut fa, mut fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]).unwrap() {
            0 => break,
            k => n += k,
        }
    }
    n
}

fn sha256_local(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// What a progress callback saw: bytes of the file, its total.
type Seen = (u64, Option<u64>);

// ---- tests ----------------------------------------------------------------------------------

#[tokio::test]
async fn random_64_mib_file_round_trips_byte_for_byte_with_progress() {
    let env = require!();
    with_container(&env, "it-files-big", true, |client, name, env| async move {
        const SIZE: usize = 64 << 20;
        let dir = scratch("it-files-big");
        let source = dir.join("source.bin");
        write_random(&source, SIZE, 0x5eed_1234_abcd_0001);

        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let files = client
            .instances()
            .files(&name)
            .with_progress(move |p| log.lock().unwrap().push((p.bytes, p.total)));
        files
            .put_from_path("/root/big.bin", &source, &PutOptions::new())
            .await
            .unwrap();
        {
            let seen = seen.lock().unwrap();
            assert!(
                seen.len() > 16,
                "progress was reported {} times",
                seen.len()
            );
            assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "bytes only grow");
            assert!(seen.iter().all(|(_, total)| *total == Some(SIZE as u64)));
            assert_eq!(seen.last().unwrap().0, SIZE as u64);
        }

        // Checked inside the container by another route.
        let remote_sum = lxc_exec(&env, &name, "sha256sum /root/big.bin");
        assert_eq!(&remote_sum[..64], sha256_local(&source));

        seen.lock().unwrap().clear();
        let copy = dir.join("copy.bin");
        let done = files.get_to_path("/root/big.bin", &copy).await.unwrap();
        assert_eq!(done.bytes, SIZE as u64);
        assert!(done.stat.is_file());
        assert!(same_content(&source, &copy), "the pulled file differs");
        assert_eq!(
            seen.lock().unwrap().last().copied(),
            Some((SIZE as u64, Some(SIZE as u64)))
        );
        // Only the two files: no temporary left behind.
        assert_eq!(names_in(&dir), ["copy.bin", "source.bin"]);

        // Into any AsyncWrite, and from any AsyncRead of unknown length.
        let mut sink = tokio::io::sink();
        let done = files
            .get_to_writer("/root/big.bin", &mut sink)
            .await
            .unwrap();
        assert_eq!(done.bytes, SIZE as u64);
        let reader = tokio::fs::File::open(&source).await.unwrap();
        files
            .put_from_reader("/root/again.bin", reader, None, &PutOptions::new())
            .await
            .unwrap();
        let again = lxc_exec(&env, &name, "sha256sum /root/again.bin");
        assert_eq!(&again[..64], &remote_sum[..64]);
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await;
}

#[tokio::test]
async fn mode_uid_and_gid_are_applied_and_read_back() {
    let env = require!();
    with_container(
        &env,
        "it-files-mode",
        true,
        |client, name, env| async move {
            let files = client.instances().files(&name);
            let options = PutOptions::new().mode(0o640).uid(1234).gid(567);
            files
                .put_bytes("/root/owned", "secret\n", &options)
                .await
                .unwrap();
            let stat = files.stat("/root/owned").await.unwrap();
            assert_eq!(stat.file_type, InstanceFileType::File);
            assert_eq!((stat.uid, stat.gid, stat.mode), (1234, 567, 0o640));
            assert_eq!(
                lxc_exec(&env, &name, "stat -c '%u %g %a' /root/owned"),
                "1234 567 640"
            );
            // The same through a download's headers, and onto the local copy's mode.
            let download = files.get("/root/owned").await.unwrap();
            assert_eq!(download.stat(), &stat);
            assert_eq!(download.length(), Some(7));
            drop(download);
            let dir = scratch("it-files-mode");
            files
                .get_to_path("/root/owned", dir.join("owned"))
                .await
                .unwrap();
            assert_eq!(mode_of(&dir.join("owned")), 0o640);

            // A local file's mode is used when none is given.
            let local = dir.join("script.sh");
            std::fs::write(&local, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&local, std::os::unix::fs::PermissionsExt::from_mode(0o751))
                .unwrap();
            files
                .put_from_path("/root/script.sh", &local, &PutOptions::new())
                .await
                .unwrap();
            assert_eq!(files.stat("/root/script.sh").await.unwrap().mode, 0o751);

            // LXD applies owner and mode only when it creates the file...
            files
                .put_bytes("/root/owned", "v2\n", &PutOptions::new().mode(0o600).uid(1))
                .await
                .unwrap();
            let stat = files.stat("/root/owned").await.unwrap();
            assert_eq!((stat.uid, stat.gid, stat.mode), (1234, 567, 0o640));
            assert_eq!(files.get_bytes("/root/owned").await.unwrap(), b"v2\n");
            // ...unless the server can modify existing files; else that is a clear error.
            let modify = PutOptions::new().mode(0o600).modify_existing(true);
            let result = files.put_bytes("/root/owned", "v3\n", &modify).await;
            if client
                .has_api_extension("instances_files_modify_permissions")
                .await
                .unwrap()
            {
                result.unwrap();
                assert_eq!(files.stat("/root/owned").await.unwrap().mode, 0o600);
            } else {
                let err = result.unwrap_err();
                assert!(err.is_missing_extension(), "{err:?}");
                assert!(
                    err.to_string()
                        .contains("instances_files_modify_permissions")
                );
            }
            std::fs::remove_dir_all(&dir).unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn append_adds_to_the_end() {
    let env = require!();
    with_container(
        &env,
        "it-files-append",
        false,
        |client, name, _env| async move {
            let files = client.instances().files(&name);
            files
                .put_bytes("/root/log", "hello ", &PutOptions::new())
                .await
                .unwrap();
            files
                .put_bytes("/root/log", "world", &PutOptions::new().append())
                .await
                .unwrap();
            let reader = std::io::Cursor::new(b"!\n".to_vec());
            files
                .put_from_reader("/root/log", reader, Some(2), &PutOptions::new().append())
                .await
                .unwrap();
            assert_eq!(
                files.get_bytes("/root/log").await.unwrap(),
                b"hello world!\n"
            );
            // Overwrite replaces the whole content.
            files
                .put_bytes("/root/log", "new", &PutOptions::new())
                .await
                .unwrap();
            assert_eq!(files.get_bytes("/root/log").await.unwrap(), b"new");
            // Appending needs an existing file.
            let err = files
                .put_bytes("/root/none", "x", &PutOptions::new().append())
                .await
                .unwrap_err();
            assert!(err.is_not_found(), "{err:?}");
            assert!(err.to_string().contains("/root/none"), "{err}");
        },
    )
    .await;
}

#[tokio::test]
async fn directories_nested_listed_and_checked() {
    let env = require!();
    with_container(
        &env,
        "it-files-dirs",
        true,
        |client, name, env| async move {
            let files = client.instances().files(&name);
            files.create_dir("/srv", &DirOptions::new()).await.unwrap();
            files
                .create_dir("/srv/one", &DirOptions::new().mode(0o700).uid(10).gid(20))
                .await
                .unwrap();
            let stat = files.stat("/srv/one").await.unwrap();
            assert!(stat.is_dir());
            assert_eq!((stat.uid, stat.gid, stat.mode), (10, 20, 0o700));
            assert_eq!(
                lxc_exec(&env, &name, "stat -c '%u %g %a' /srv/one"),
                "10 20 700"
            );

            // Without parents a missing parent is an error; with them, all are created.
            let err = files
                .create_dir("/srv/a/b/c", &DirOptions::new())
                .await
                .unwrap_err();
            assert!(err.is_not_found(), "{err:?}");
            files
                .create_dir("/srv/a/b/c", &DirOptions::new().parents(true).mode(0o755))
                .await
                .unwrap();
            assert_eq!(lxc_exec(&env, &name, "stat -c '%a' /srv/a/b/c"), "755");
            assert_eq!(files.list_dir("/srv/a").await.unwrap(), ["b"]);
            let mut top = files.list_dir("/srv").await.unwrap();
            top.sort();
            assert_eq!(top, ["a", "one"]);
            // An existing directory is fine (and keeps its mode).
            files
                .create_dir("/srv/one", &DirOptions::new().mode(0o777))
                .await
                .unwrap();
            assert_eq!(files.stat("/srv/one").await.unwrap().mode, 0o700);
            // A file where a directory is asked for: LXD says success, the client does not.
            files
                .put_bytes("/srv/file", "x", &PutOptions::new())
                .await
                .unwrap();
            let err = files
                .create_dir("/srv/file", &DirOptions::new())
                .await
                .unwrap_err();
            assert!(err.is_conflict(), "{err:?}");
            // Directories are not files and files are not directories.
            let err = files.list_dir("/srv/file").await.unwrap_err();
            assert!(err.is_invalid_input(), "{err:?}");
            assert!(err.to_string().contains("not a directory"), "{err}");
            let err = files.get_bytes("/srv/a").await.unwrap_err();
            assert!(err.is_invalid_input(), "{err:?}");
            assert!(err.to_string().contains("is a directory"), "{err}");
        },
    )
    .await;
}

#[tokio::test]
async fn symlinks_both_ways() {
    let env = require!();
    with_container(
        &env,
        "it-files-links",
        true,
        |client, name, env| async move {
            let files = client.instances().files(&name);
            files
                .put_bytes("/root/target", "pointed at\n", &PutOptions::new())
                .await
                .unwrap();
            // Client-made link, checked from inside: the target is kept as given (relative).
            files.create_symlink("/root/rel", "target").await.unwrap();
            assert_eq!(lxc_exec(&env, &name, "readlink /root/rel"), "target");
            assert!(files.stat("/root/rel").await.unwrap().is_symlink());
            // LXD reports targets absolute and cleaned.
            assert_eq!(files.read_link("/root/rel").await.unwrap(), "/root/target");
            // Reading a file through a link follows it inside the instance.
            assert_eq!(files.get_bytes("/root/rel").await.unwrap(), b"pointed at\n");
            let download = files.get("/root/rel").await.unwrap();
            assert_eq!(download.path(), "/root/target");
            drop(download);

            // Container-made links, read by the client.
            lxc_exec(
                &env,
                &name,
                "mkdir -p /root/d && ln -s ../target /root/d/up && ln -s /etc /root/etc-link",
            );
            assert_eq!(files.read_link("/root/d/up").await.unwrap(), "/root/target");
            assert_eq!(files.read_link("/root/etc-link").await.unwrap(), "/etc");
            let listed = files.list_dir("/root/etc-link").await.unwrap();
            assert!(listed.iter().any(|n| n == "passwd"), "{listed:?}");

            // Same link again is fine; another target is an error.
            files.create_symlink("/root/rel", "target").await.unwrap();
            let err = files
                .create_symlink("/root/rel", "elsewhere")
                .await
                .unwrap_err();
            assert!(err.status().is_some(), "{err:?}");
            assert_eq!(lxc_exec(&env, &name, "readlink /root/rel"), "target");
            let err = files.read_link("/root/target").await.unwrap_err();
            assert!(err.is_invalid_input(), "{err:?}");
            assert!(err.to_string().contains("not a symlink"), "{err}");
        },
    )
    .await;
}

#[tokio::test]
async fn delete_files_links_and_empty_directories() {
    let env = require!();
    with_container(
        &env,
        "it-files-delete",
        false,
        |client, name, _env| async move {
            let files = client.instances().files(&name);
            assert!(client.has_api_extension("file_delete").await.unwrap());
            files
                .put_bytes("/root/f", "x", &PutOptions::new())
                .await
                .unwrap();
            files.create_symlink("/root/l", "/root/f").await.unwrap();
            files
                .create_dir("/root/d/e", &DirOptions::new().parents(true))
                .await
                .unwrap();

            // A link goes, not its target.
            files.delete("/root/l").await.unwrap();
            assert!(!files.exists("/root/l").await.unwrap());
            assert!(files.exists("/root/f").await.unwrap());
            files.delete("/root/f").await.unwrap();
            assert!(!files.exists("/root/f").await.unwrap());
            // A directory must be empty.
            let err = files.delete("/root/d").await.unwrap_err();
            assert!(err.status().is_some() && !err.is_not_found(), "{err:?}");
            files.delete("/root/d/e").await.unwrap();
            files.delete("/root/d").await.unwrap();
            assert!(!files.exists("/root/d").await.unwrap());
            let err = files.delete("/root/d").await.unwrap_err();
            assert!(err.is_not_found(), "{err:?}");
        },
    )
    .await;
}

/// A local tree of 500 small files in nested directories with various modes, plus an
/// in-tree symlink and an absolute one.
fn make_tree(root: &Path) -> Vec<(String, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let modes = [0o644, 0o600, 0o755, 0o640, 0o700];
    let mut files = Vec::new();
    for i in 0..500 {
        let dir = format!("d{}/s{}", i % 10, i % 3);
        std::fs::create_dir_all(root.join(&dir)).unwrap();
        let rel = format!("{dir}/f{i}.txt");
        let path = root.join(&rel);
        std::fs::write(&path, format!("file {i}\n").repeat(i % 7 + 1)).unwrap();
        let mode = modes[i % modes.len()];
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        files.push((rel, mode));
    }
    std::fs::set_permissions(root.join("d3"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("d0/s0/f0.txt", root.join("link")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.join("abs-link")).unwrap();
    files
}

#[tokio::test]
async fn recursive_put_and_get_of_500_files_with_modes_and_symlinks() {
    let env = require!();
    with_container(
        &env,
        "it-files-tree",
        true,
        |client, name, env| async move {
            let work = scratch("it-files-tree");
            let source = work.join("source");
            std::fs::create_dir(&source).unwrap();
            let files_made = make_tree(&source);

            let done_files = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let counter = done_files.clone();
            let files = client.instances().files(&name).with_progress(move |p| {
                counter.fetch_max(p.files_done, std::sync::atomic::Ordering::Relaxed);
            });
            let put = files
                .put_recursive(&source, "/srv/tree", &PutRecursiveOptions::new())
                .await
                .unwrap();
            assert_eq!(put.files, 500);
            assert_eq!(put.symlinks, 2);
            // The top, d0..d9 and their s0..s2.
            assert_eq!(put.directories, 1 + 10 + 30);
            assert!(put.skipped.is_empty(), "{:?}", put.skipped);
            assert_eq!(done_files.load(std::sync::atomic::Ordering::Relaxed), 500);

            // Checked from inside the container.
            assert_eq!(
                lxc_exec(&env, &name, "busybox find /srv/tree -type f | wc -l"),
                "500"
            );
            assert_eq!(
                lxc_exec(&env, &name, "readlink /srv/tree/link"),
                "d0/s0/f0.txt"
            );
            assert_eq!(lxc_exec(&env, &name, "stat -c '%a' /srv/tree/d3"), "750");
            for (rel, mode) in files_made.iter().take(5) {
                assert_eq!(
                    lxc_exec(&env, &name, &format!("stat -c '%a' /srv/tree/{rel}")),
                    format!("{mode:o}")
                );
            }

            // And back.
            let back = work.join("back");
            let got = files
                .get_recursive(
                    "/srv/tree",
                    &back,
                    &GetRecursiveOptions::new().outside_links(OutsideLinks::Keep),
                )
                .await
                .unwrap();
            assert_eq!(got.files, 500);
            assert_eq!(got.symlinks, 2);
            assert_eq!(got.directories, put.directories);
            assert_eq!(got.bytes, put.bytes);
            for (rel, mode) in &files_made {
                let (a, b) = (source.join(rel), back.join(rel));
                assert_eq!(
                    std::fs::read(&a).unwrap(),
                    std::fs::read(&b).unwrap(),
                    "{rel}"
                );
                assert_eq!(mode_of(&b), *mode, "{rel}");
            }
            assert_eq!(mode_of(&back.join("d3")), 0o750);
            // The in-tree link stays relative and inside; the outside one is kept as a link.
            assert_eq!(
                std::fs::read_link(back.join("link")).unwrap(),
                Path::new("d0/s0/f0.txt")
            );
            assert_eq!(
                std::fs::read_link(back.join("abs-link")).unwrap(),
                Path::new("/etc/hostname")
            );
            // No temporaries anywhere.
            let mut stack = vec![back.clone()];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).unwrap() {
                    let entry = entry.unwrap();
                    let n = entry.file_name().into_string().unwrap();
                    assert!(!n.starts_with(".lxd-part"), "{}", entry.path().display());
                    if entry.file_type().unwrap().is_dir() {
                        stack.push(entry.path());
                    }
                }
            }
            std::fs::remove_dir_all(&work).unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn recursive_get_never_writes_outside_the_destination() {
    let env = require!();
    with_container(
        &env,
        "it-files-escape",
        true,
        |client, name, env| async move {
            // A hostile tree inside the container: names with dots, links out of the tree.
            lxc_exec(
                &env,
                &name,
                "mkdir -p /t/sub && echo dots > '/t/..evil' && echo three > '/t/...' \
             && echo mid > /t/a..b && ln -s /etc /t/etc && ln -s ../../../../.. /t/up \
             && ln -s ../.. /t/sub/back && ln -s /etc/passwd /t/sub/pw \
             && ln -s ../..evil /t/sub/inside && echo data > /t/sub/file",
            );
            let files = client.instances().files(&name);
            let work = scratch("it-files-escape");

            // Keep: outside links become links (never followed), in-tree ones relative links.
            let dest = work.join("keep");
            let got = files
                .get_recursive(
                    "/t",
                    &dest,
                    &GetRecursiveOptions::new().outside_links(OutsideLinks::Keep),
                )
                .await
                .unwrap();
            assert_eq!(got.files, 4);
            assert_eq!(got.symlinks, 5);
            assert_eq!(std::fs::read(dest.join("..evil")).unwrap(), b"dots\n");
            assert_eq!(std::fs::read(dest.join("...")).unwrap(), b"three\n");
            assert_eq!(std::fs::read(dest.join("a..b")).unwrap(), b"mid\n");
            assert_eq!(std::fs::read(dest.join("sub/file")).unwrap(), b"data\n");
            for (link, target) in [
                ("etc", "/etc"),
                ("up", "/"),
                ("sub/back", "/"),
                ("sub/pw", "/etc/passwd"),
                ("sub/inside", "../..evil"),
            ] {
                let path = dest.join(link);
                assert!(is_symlink(&path), "{link} is not a symlink");
                assert_eq!(
                    std::fs::read_link(&path).unwrap(),
                    Path::new(target),
                    "{link}"
                );
            }
            // Only the destination was written in the work directory.
            assert_eq!(names_in(&work), ["keep"]);

            // Skip: the outside links are listed, not made.
            let dest = work.join("skip");
            let got = files
                .get_recursive(
                    "/t",
                    &dest,
                    &GetRecursiveOptions::new().outside_links(OutsideLinks::Skip),
                )
                .await
                .unwrap();
            let mut skipped: Vec<&str> = got.skipped.iter().map(|s| s.path.as_str()).collect();
            skipped.sort();
            assert_eq!(skipped, ["/t/etc", "/t/sub/back", "/t/sub/pw", "/t/up"]);
            assert_eq!(got.symlinks, 1);
            assert!(std::fs::symlink_metadata(dest.join("etc")).is_err());

            // Refuse: an error naming the link.
            let err = files
                .get_recursive(
                    "/t",
                    work.join("refuse"),
                    &GetRecursiveOptions::new().outside_links(OutsideLinks::Refuse),
                )
                .await
                .unwrap_err();
            assert!(err.is_invalid_input(), "{err:?}");
            assert!(err.to_string().contains("outside"), "{err}");

            // Local symlinks in the way are never followed: not where a directory goes...
            let outside = work.join("outside");
            std::fs::create_dir(&outside).unwrap();
            let dest = work.join("trap-dir");
            std::fs::create_dir(&dest).unwrap();
            std::os::unix::fs::symlink(&outside, dest.join("sub")).unwrap();
            let err = files
                .get_recursive("/t", &dest, &GetRecursiveOptions::new())
                .await
                .unwrap_err();
            assert!(err.is_io(), "{err:?}");
            assert!(
                names_in(&outside).is_empty(),
                "wrote through a local symlink"
            );
            // ...nor where a file goes: the link is replaced, its target untouched.
            let victim = outside.join("victim");
            std::fs::write(&victim, b"keep me").unwrap();
            let dest = work.join("trap-file");
            std::fs::create_dir(&dest).unwrap();
            std::os::unix::fs::symlink(&victim, dest.join("a..b")).unwrap();
            files
                .get_recursive("/t", &dest, &GetRecursiveOptions::new())
                .await
                .unwrap();
            assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
            assert!(!is_symlink(&dest.join("a..b")));
            assert_eq!(std::fs::read(dest.join("a..b")).unwrap(), b"mid\n");
            std::fs::remove_dir_all(&work).unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let env = require!();
    with_container(
        &env,
        "it-files-bad",
        false,
        |client, name, _env| async move {
            let files = client.instances().files(&name);
            // A relative path: refused before any request.
            let err = files.get_bytes("etc/hostname").await.unwrap_err();
            assert!(err.is_invalid_input(), "{err:?}");
            assert!(err.to_string().contains("relative"), "{err}");
            let err = files
                .put_bytes("tmp/x", "x", &PutOptions::new())
                .await
                .unwrap_err();
            assert!(err.is_invalid_input(), "{err:?}");
            // A missing file: not found, naming the path.
            let mut err = files.get_bytes("/no/such/file").await.unwrap_err();
            // Incus 6.0.4 may answer the first file request on a stopped instance before its
            // file helper listens ("dial unix .../forkfile.sock: connect: no such file"):
            // seen once in CI, a server race; the request is sent again once.
            if err.to_string().contains("forkfile.sock") {
                eprintln!("Incus file helper not ready ({err}); asking again");
                err = files.get_bytes("/no/such/file").await.unwrap_err();
            }
            assert!(err.is_not_found(), "{err:?}");
            assert!(err.to_string().contains("/no/such/file"), "{err}");
            let err = files.stat("/no/such/file").await.unwrap_err();
            assert!(err.is_not_found(), "{err:?}");
            // A directory where a file is expected, both ways.
            let err = files.get_bytes("/etc").await.unwrap_err();
            assert!(
                err.is_invalid_input() && err.to_string().contains("is a directory"),
                "{err}"
            );
            let err = files
                .put_bytes("/etc", "x", &PutOptions::new())
                .await
                .unwrap_err();
            assert!(err.status().is_some(), "{err:?}");
            assert!(err.to_string().contains("/etc"), "{err}");
            let dir = scratch("it-files-bad");
            let err = files.get_to_path("/etc/hostname", &dir).await.unwrap_err();
            assert!(err.is_invalid_input(), "{err:?}");
            let err = files
                .put_from_path("/root/x", &dir, &PutOptions::new())
                .await
                .unwrap_err();
            assert!(err.is_invalid_input(), "{err:?}");
            let err = files
                .put_from_path("/root/x", dir.join("missing"), &PutOptions::new())
                .await
                .unwrap_err();
            assert!(err.is_io(), "{err:?}");
            // A missing remote file leaves no local file.
            let err = files
                .get_to_path("/no/such/file", dir.join("out"))
                .await
                .unwrap_err();
            assert!(err.is_not_found(), "{err:?}");
            assert!(names_in(&dir).is_empty());
            // A reader shorter than its announced length fails the request.
            let err = files
                .put_from_reader(
                    "/root/short",
                    std::io::Cursor::new(vec![1u8; 10]),
                    Some(20),
                    &PutOptions::new(),
                )
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Transport(_)), "{err:?}");
            // Recursive get of a file, recursive put of a file.
            let err = files
                .get_recursive("/etc/hostname", dir.join("r"), &GetRecursiveOptions::new())
                .await
                .unwrap_err();
            assert!(err.is_invalid_input(), "{err:?}");
            std::fs::write(dir.join("plain"), b"x").unwrap();
            let err = files
                .put_recursive(dir.join("plain"), "/root/r", &PutRecursiveOptions::new())
                .await
                .unwrap_err();
            assert!(err.is_invalid_input(), "{err:?}");
            // A mode beyond permission bits.
            let err = files
                .put_bytes("/root/m", "x", &PutOptions::new().mode(0o20000))
                .await
                .unwrap_err();
            assert!(err.is_invalid_input(), "{err:?}");
            std::fs::remove_dir_all(&dir).unwrap();

            // Snapshots: LXD has no file access to them; said clearly, before any request.
            client
                .raw(
                    lxd_client::Method::POST,
                    format!("/1.0/instances/{name}/snapshots"),
                )
                .json(&serde_json::json!({"name": "s0"}))
                .unwrap()
                .operation()
                .await
                .unwrap()
                .wait()
                .await
                .unwrap();
            let err = client
                .instances()
                .files(&format!("{name}/s0"))
                .list_dir("/")
                .await
                .unwrap_err();
            assert!(err.is_invalid_input(), "{err:?}");
            assert!(err.to_string().contains("snapshot"), "{err}");
            // The server indeed refuses (asked raw, so the client's refusal hides no capability).
            let raw = client
                .raw(
                    lxd_client::Method::GET,
                    format!("/1.0/instances/{name}%2Fs0/files"),
                )
                .query("path", "/")
                .send()
                .await
                .unwrap_err();
            assert!(raw.is_bad_request(), "{raw:?}");
        },
    )
    .await;
}
