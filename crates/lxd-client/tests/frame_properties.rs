//! Bounded property test of what exec and console websockets deliver to the client: random
//! and mutated server byte streams (binary output frames, LXD's empty text end-of-stream
//! marker, control messages, pings, close frames, fragments) are read with the websocket
//! implementation the client uses; text messages are decoded as control messages. Nothing
//! may panic, and every read loop ends within the input's length.
//!
//! The same input shape runs longer under `cargo fuzz run exec_frames` (see `fuzz/`).
//! `LXD_PROPTEST_SEED` replays a failure, `LXD_PROPTEST_CASES` changes the number of cases.

use std::io::{Cursor, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use lxd_client::proto::{InstanceConsoleControl, InstanceExecControl};
use lxd_client::transport::tungstenite::Message;
use lxd_client::transport::tungstenite::protocol::{Role, WebSocket};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// The server's bytes to read; what the client writes (pongs, close replies) goes nowhere.
struct Peer(Cursor<Vec<u8>>);

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One server frame (unmasked, as servers send them).
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n < 65536 => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

const CONTROL: &[&str] = &[
    r#"{"command":"signal","signal":15}"#,
    r#"{"command":"window-resize","args":{"width":"80","height":"24"}}"#,
    r#"{"command":"window-resize","args":{"width":-1}}"#,
    r#"{"command":"signal","signal":"x"}"#,
    "",
    "{",
    "null",
];

/// A plausible session: output, markers, control messages, pings, a close, in any order.
fn session(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..1 + rng.below(6) {
        let bytes: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
        let piece = match rng.below(7) {
            0 | 1 => frame(true, 2, &bytes),
            2 => frame(true, 1, b""),
            3 => frame(true, 1, CONTROL[rng.below(CONTROL.len())].as_bytes()),
            4 => frame(true, 9, &bytes[..bytes.len().min(125)]),
            5 => {
                let mut f = frame(false, 2, &bytes);
                f.extend(frame(true, 0, b"tail"));
                f
            }
            _ => frame(true, 8, &[0x03, 0xe8]),
        };
        out.extend(piece);
    }
    out
}

/// Flips, cuts, splices and random bytes on top of a session.
fn mutate(rng: &mut Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 if !bytes.is_empty() => {
                let i = at.min(bytes.len() - 1);
                bytes[i] ^= 1 << rng.below(8);
            }
            1 => bytes.truncate(at),
            2 => {
                let end = (at + rng.below(16)).min(bytes.len());
                bytes.drain(at..end);
            }
            // Huge declared lengths, reserved bits and opcodes, masks from a server.
            3 => {
                bytes.splice(
                    at..at,
                    [
                        0x80 | (rng.next() as u8 & 0x7f),
                        0x7f | (rng.next() as u8 & 0x80),
                        0xff,
                        0xff,
                    ],
                );
            }
            _ => bytes.insert(at, rng.next() as u8),
        }
    }
    bytes
}

/// Reads everything the way an output or control channel would.
fn read_all(data: Vec<u8>) -> usize {
    let limit = data.len();
    let mut ws = WebSocket::from_raw_socket(Peer(Cursor::new(data)), Role::Client, None);
    let mut messages = 0;
    for _ in 0..=limit {
        match ws.read() {
            Ok(Message::Text(text)) => {
                let _ = serde_json::from_str::<InstanceExecControl>(text.as_str());
                let _ = serde_json::from_str::<InstanceConsoleControl>(text.as_str());
                messages += 1;
            }
            Ok(_) => messages += 1,
            Err(_) => return messages,
        }
    }
    panic!("the read loop did not end within the input's length");
}

#[test]
fn exec_and_console_frames_never_panic() {
    let seed: u64 = std::env::var("LXD_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x005e_edf4_a3e5);
    let cases: usize = std::env::var("LXD_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let mut rng = Rng(seed.max(1));
    let mut messages = 0;
    for case in 0..cases {
        let input = match case % 3 {
            0 => session(&mut rng),
            1 => {
                let s = session(&mut rng);
                mutate(&mut rng, s)
            }
            _ => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
        };
        let copy = input.clone();
        match catch_unwind(AssertUnwindSafe(|| read_all(input))) {
            Ok(n) => messages += n,
            Err(panic) => {
                eprintln!(
                    "case {case} panicked (LXD_PROPTEST_SEED={seed}); input {:02x?}",
                    &copy[..copy.len().min(256)]
                );
                resume_unwind(panic);
            }
        }
    }
    println!("exec/console frames: {cases} inputs, {messages} messages read, seed {seed}");
    assert!(
        messages > cases / 2,
        "the generator makes readable sessions"
    );
}
