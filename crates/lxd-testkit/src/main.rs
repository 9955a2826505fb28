//! `lxd-testkit`: runs an in-process LXD imitation until interrupted.
//!
//! ```text
//! cargo run -p lxd-testkit -- --dir /tmp/tk [--https 127.0.0.1:8443] [--trust-password PW]
//! LXD_DIR=/tmp/tk LXD_SOCKET=/tmp/tk/unix.socket lxc --force-local list
//! cargo run -p lxd-testkit -- --dir /tmp/tki --incus
//! INCUS_DIR=/tmp/tki INCUS_SOCKET=/tmp/tki/unix.socket incus --force-local list
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

const USAGE: &str = "\
usage: lxd-testkit --dir DIR [--https ADDR] [--trust-password PASSWORD] [--server-name NAME]
                   [--without-busybox] [--incus | --lxd6]

Serves an in-memory LXD imitation on DIR/unix.socket (and on HTTPS at ADDR, a loopback
address such as 127.0.0.1:8443; port 0 picks one) until interrupted.
Point lxc at it with: LXD_DIR=DIR LXD_SOCKET=DIR/unix.socket lxc --force-local ...
--incus presents it as Incus (environment.server \"incus\", X-Incus-* headers); point incus
at it with: INCUS_DIR=DIR INCUS_SOCKET=DIR/unix.socket incus --force-local ...
--lxd6 presents it as LXD 6.9 (LXD's whole extension list, network and storage pool writes
answered with operations, exec output under logs/exec-output/, no trust password).";

#[derive(Debug)]
struct Options {
    dir: String,
    https: Option<SocketAddr>,
    trust_password: Option<String>,
    server_name: Option<String>,
    busybox: bool,
    incus: bool,
    lxd6: bool,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut dir = None;
    let mut options = Options {
        dir: String::new(),
        https: None,
        trust_password: None,
        server_name: None,
        busybox: true,
        incus: false,
        lxd6: false,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--dir" => dir = Some(value("--dir")?),
            "--https" => {
                let text = value("--https")?;
                options.https = Some(
                    text.parse()
                        .map_err(|e| format!("--https {text}: {e} (give IP:PORT)"))?,
                );
            }
            "--trust-password" => options.trust_password = Some(value("--trust-password")?),
            "--server-name" => options.server_name = Some(value("--server-name")?),
            "--without-busybox" => options.busybox = false,
            "--incus" => options.incus = true,
            "--lxd6" => options.lxd6 = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if options.incus && options.lxd6 {
        return Err("--incus and --lxd6 exclude each other".into());
    }
    options.dir = dir.ok_or("--dir is required")?;
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("lxd-testkit: {message}\n");
            }
            eprintln!("{USAGE}");
            return if message.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let mut builder = lxd_testkit::TestServer::builder().dir(&options.dir);
    if let Some(address) = options.https {
        builder = builder.https_address(address);
    }
    if let Some(password) = &options.trust_password {
        builder = builder.trust_password(password);
    }
    if let Some(name) = &options.server_name {
        builder = builder.server_name(name);
    }
    if !options.busybox {
        builder = builder.without_busybox();
    }
    if options.incus {
        builder = builder.incus();
    }
    if options.lxd6 {
        builder = builder.flavor(lxd_testkit::ServerFlavor::Lxd6);
    }
    let server = match builder.start().await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("lxd-testkit: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (imitation, tool, env) = if options.incus {
        ("Incus 6.0", "incus", ("INCUS_DIR", "INCUS_SOCKET"))
    } else if options.lxd6 {
        ("LXD 6.9", "lxc", ("LXD_DIR", "LXD_SOCKET"))
    } else {
        ("LXD 5.0", "lxc", ("LXD_DIR", "LXD_SOCKET"))
    };
    println!("lxd-testkit serving ({imitation} imitation, state in memory)");
    println!("  unix socket:  {}", server.socket_path().display());
    if let Some(url) = server.https_url() {
        println!("  HTTPS:        {url}");
        println!("  certificate:  {}/server.crt", server.dir().display());
        println!("  fingerprint:  {}", server.certificate_fingerprint());
    }
    println!(
        "  use it with:  export {dir_var}={dir} {socket_var}={socket}; {tool} --force-local list",
        dir_var = env.0,
        socket_var = env.1,
        dir = server.dir().display(),
        socket = server.socket_path().display()
    );
    println!("Interrupt (Ctrl-C) or terminate to stop.");
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    println!("lxd-testkit stopping");
    drop(server);
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn arguments() {
        let options = parse(args(&["--dir", "/tmp/x", "--https=127.0.0.1:0"])).unwrap();
        assert_eq!(options.dir, "/tmp/x");
        assert_eq!(options.https.unwrap().port(), 0);
        assert!(parse(args(&["--https", "nope", "--dir", "d"])).is_err());
        assert!(parse(args(&[])).unwrap_err().contains("--dir"));
        assert_eq!(parse(args(&["--help"])).unwrap_err(), "");
        assert!(parse(args(&["--bogus"])).is_err());
        assert!(!options.incus);
        assert!(parse(args(&["--dir", "d", "--incus"])).unwrap().incus);
        assert!(parse(args(&["--dir", "d", "--lxd6"])).unwrap().lxd6);
        assert!(parse(args(&["--dir", "d", "--lxd6", "--incus"])).is_err());
    }
}
