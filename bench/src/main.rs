//! `lxd-bench`: lxd-client against a minimal raw client on a real LXD (`cargo xtask bench`
//! builds and runs it against a private daemon).
//!
//! `lxd-bench bench --socket S --image ALIAS [--quick] [--big] [--only W1,W4] [--rounds N]
//! [--work DIR]` sets up the fixtures, runs every (workload, side) in a fresh child process
//! (so peak RSS is per workload and per side), raw and client interleaved, prints the table
//! and writes `DIR/bench.json`. With `--python PY --peers-script bench/peers/pylxd_side.py` the
//! peers (pylxd, the `lxc` CLI, curl for W1) run too, interleaved with the two.
//!
//! `lxd-bench run CASE SIDE --socket S --image ALIAS --work DIR [--quick] [--size BYTES]`
//! is one child: it prints one JSON line.

mod cli_side;
mod client_side;
mod harness;
mod parent;
mod raw;
mod raw_side;
mod work;

use std::path::PathBuf;
use std::process::ExitCode;

use work::{Counts, Ctx, MIB, Peers, RUN_CONTAINER};

const USAGE: &str = "usage: lxd-bench bench --socket PATH --image ALIAS [--quick] [--big] [--only W1,W4] [--rounds N] [--work DIR] [--python PY --peers-script pylxd_side.py]
       lxd-bench run CASE raw|client --socket PATH --image ALIAS --work DIR [--quick] [--size BYTES]";

/// Command-line options of both modes.
#[derive(Debug, Default)]
pub(crate) struct Args {
    pub(crate) positional: Vec<String>,
    pub(crate) socket: Option<PathBuf>,
    pub(crate) image: Option<String>,
    pub(crate) work: Option<PathBuf>,
    pub(crate) quick: bool,
    pub(crate) big: bool,
    pub(crate) only: Option<Vec<String>>,
    pub(crate) rounds: Option<usize>,
    pub(crate) size: Option<u64>,
    pub(crate) python: Option<PathBuf>,
    pub(crate) peers_script: Option<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--socket" => args.socket = Some(value("--socket")?.into()),
            "--image" => args.image = Some(value("--image")?),
            "--work" => args.work = Some(value("--work")?.into()),
            "--quick" => args.quick = true,
            "--python" => args.python = Some(value("--python")?.into()),
            "--peers-script" => args.peers_script = Some(value("--peers-script")?.into()),
            "--big" => args.big = true,
            "--only" => {
                let list = value("--only")?;
                args.only = Some(list.split(',').map(|s| s.trim().to_uppercase()).collect());
            }
            "--rounds" => {
                args.rounds = Some(
                    value("--rounds")?
                        .parse()
                        .map_err(|e| format!("--rounds: {e}"))?,
                )
            }
            "--size" => {
                args.size = Some(
                    value("--size")?
                        .parse()
                        .map_err(|e| format!("--size: {e}"))?,
                )
            }
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other => args.positional.push(other.to_owned()),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("lxd-bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (Some(socket), Some(image)) = (args.socket.clone(), args.image.clone()) else {
        eprintln!("lxd-bench: --socket and --image are required\n{USAGE}");
        return ExitCode::from(2);
    };
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/bench"));
    let ctx = Ctx {
        socket,
        image,
        run: RUN_CONTAINER.to_owned(),
        work,
        counts: Counts::new(args.quick),
        size: args.size.unwrap_or(64 * MIB),
        peers: match (&args.python, &args.peers_script) {
            (Some(python), Some(script)) => Some(Peers {
                python: python.clone(),
                script: script.clone(),
            }),
            _ => None,
        },
    };
    let result = match args.positional.first().map(String::as_str) {
        Some("run") => match (args.positional.get(1), args.positional.get(2)) {
            (Some(case), Some(side)) => work::child(case, side, &ctx),
            _ => Err(USAGE.into()),
        },
        Some("bench") => parent::run(&args, &ctx),
        _ => Err(USAGE.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lxd-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
