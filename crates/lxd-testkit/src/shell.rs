//! The commands an exec runs: `echo`, `cat`, `true`, `false`, `env`, `pwd`, `sleep N`,
//! `head -c N` / `head -n N`, `id`, `tty`, `stty size`, and `sh` (`-c SCRIPT`, or a script
//! read line by line from stdin) with `;`, `&&`, `||`, `|`, `exit N`, `cd`, `export`,
//! variables (`$VAR`, `${VAR}`, `$?`), quotes, and redirections (`>`, `>>`, `<`, `2>&1`,
//! `>&2`, `2>/dev/null`). Files come from the instance's in-memory file system; `/dev/null`,
//! `/dev/zero` and `/dev/stdin` are special.
//!
//! Output goes through bounded channels, so a command writing forever (`cat /dev/zero`) is
//! paced by whoever reads it, and stops (exit 141, like SIGPIPE) when nobody does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::sync::mpsc;

use crate::fs::FsError;

/// Access to the instance's files.
pub(crate) trait Files: Send + Sync {
    fn read(&self, path: &str) -> Result<Bytes, FsError>;
    fn write(&self, path: &str, data: Bytes, append: bool) -> Result<(), FsError>;
    fn is_dir(&self, path: &str) -> bool;
}

/// What a command runs with.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) cwd: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) interactive: bool,
    /// Terminal size (width, height), changed by `window-resize` on the control channel.
    pub(crate) window: Arc<Mutex<(u32, u32)>>,
    pub(crate) files: Arc<dyn Files>,
}

/// Where a command reads from.
pub(crate) enum Input {
    Channel(mpsc::Receiver<Bytes>),
    Data(Option<Bytes>),
    Empty,
}

impl Input {
    async fn read(&mut self) -> Option<Bytes> {
        match self {
            Input::Channel(rx) => rx.recv().await,
            Input::Data(data) => data.take(),
            Input::Empty => None,
        }
    }
}

/// Where a command writes to.
#[derive(Clone)]
pub(crate) enum Output {
    Channel(mpsc::Sender<Bytes>),
    Null,
}

/// The reader is gone (SIGPIPE).
#[derive(Debug)]
pub(crate) struct Closed;

impl Output {
    async fn write(&self, data: impl Into<Bytes>) -> Result<(), Closed> {
        let data = data.into();
        if data.is_empty() {
            return Ok(());
        }
        match self {
            Output::Channel(tx) => tx.send(data).await.map_err(|_| Closed),
            Output::Null => Ok(()),
        }
    }
}

/// A command's streams.
pub(crate) struct Io {
    pub(crate) stdin: Input,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
}

/// Exit status of a command killed by SIGPIPE.
const SIGPIPE_STATUS: i32 = 141;
/// Exit status of a command that is not there.
pub(crate) const NOT_FOUND: i32 = 127;

/// Commands this module implements.
pub(crate) const COMMANDS: &[&str] = &[
    "echo", "cat", "true", "false", "env", "pwd", "sleep", "head", "sh", "ash", "id", "tty", "stty",
];

/// Runs `argv` as an exec does (no shell): the program is looked up by its base name.
pub(crate) fn run<'a>(
    argv: Vec<String>,
    ctx: &'a mut Context,
    io: &'a mut Io,
) -> BoxFuture<'a, i32> {
    Box::pin(async move {
        let Some(program) = argv.first() else {
            return NOT_FOUND;
        };
        let name = program.rsplit('/').next().unwrap_or_default().to_string();
        let args = &argv[1..];
        let result = match name.as_str() {
            "echo" => echo(args, io).await,
            "cat" => cat(args, ctx, io).await,
            "true" => Ok(0),
            "false" => Ok(1),
            "env" => env(args, ctx, io).await,
            "pwd" => io.stdout.write(format!("{}\n", ctx.cwd)).await.map(|_| 0),
            "sleep" => sleep(args, io).await,
            "head" => head(args, ctx, io).await,
            "id" => id(ctx, io).await,
            "tty" => tty(ctx, io).await,
            "stty" => stty(args, ctx, io).await,
            "sh" | "ash" => return sh(args, ctx, io).await,
            _ => return NOT_FOUND,
        };
        result.unwrap_or(SIGPIPE_STATUS)
    })
}

async fn echo(args: &[String], io: &mut Io) -> Result<i32, Closed> {
    let mut newline = true;
    let mut escapes = false;
    let mut rest = args;
    while let Some(flag) = rest.first() {
        let letters = flag
            .strip_prefix('-')
            .filter(|l| !l.is_empty() && l.chars().all(|c| "neE".contains(c)));
        let Some(letters) = letters else { break };
        for c in letters.chars() {
            match c {
                'n' => newline = false,
                'e' => escapes = true,
                _ => escapes = false,
            }
        }
        rest = &rest[1..];
    }
    let mut text = rest.join(" ");
    if escapes {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some('a') => out.push('\x07'),
                Some('c') => {
                    newline = false;
                    break;
                }
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        }
        text = out;
    }
    if newline {
        text.push('\n');
    }
    io.stdout.write(text).await?;
    Ok(0)
}

static ZEROES: [u8; 32 * 1024] = [0; 32 * 1024];

/// Copies a readable thing to stdout; `Ok(false)` when it is missing or a directory (the
/// error was reported).
async fn copy_file(command: &str, path: &str, ctx: &Context, io: &mut Io) -> Result<bool, Closed> {
    match path {
        "-" | "/dev/stdin" => {
            while let Some(chunk) = io.stdin.read().await {
                io.stdout.write(chunk).await?;
            }
            Ok(true)
        }
        "/dev/null" => Ok(true),
        "/dev/zero" => loop {
            io.stdout.write(Bytes::from_static(&ZEROES)).await?;
        },
        _ => {
            let full = crate::fs::join(&ctx.cwd, path);
            match ctx.files.read(&full) {
                Ok(data) => {
                    io.stdout.write(data).await?;
                    Ok(true)
                }
                Err(FsError::IsDirectory(_)) => {
                    io.stderr
                        .write(format!("{command}: read error: Is a directory\n"))
                        .await?;
                    Ok(false)
                }
                Err(_) => {
                    io.stderr
                        .write(format!(
                            "{command}: can't open '{path}': No such file or directory\n"
                        ))
                        .await?;
                    Ok(false)
                }
            }
        }
    }
}

async fn cat(args: &[String], ctx: &Context, io: &mut Io) -> Result<i32, Closed> {
    let files: Vec<&String> = args
        .iter()
        .filter(|a| *a == "-" || !a.starts_with('-'))
        .collect();
    if files.is_empty() {
        copy_file("cat", "-", ctx, io).await?;
        return Ok(0);
    }
    let mut status = 0;
    for file in files {
        if !copy_file("cat", file, ctx, io).await? {
            status = 1;
        }
    }
    Ok(status)
}

async fn env(args: &[String], ctx: &mut Context, io: &mut Io) -> Result<i32, Closed> {
    let mut env = ctx.env.clone();
    let mut rest = args;
    if rest.first().is_some_and(|a| a == "-i" || a == "-") {
        env.clear();
        rest = &rest[1..];
    }
    while let Some((key, value)) = rest.first().and_then(|a| a.split_once('=')) {
        env.insert(key.to_string(), value.to_string());
        rest = &rest[1..];
    }
    if rest.is_empty() {
        let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        io.stdout.write(text).await?;
        return Ok(0);
    }
    let mut child = Context { env, ..ctx.clone() };
    let status = run(rest.to_vec(), &mut child, io).await;
    if status == NOT_FOUND {
        io.stderr
            .write(format!(
                "env: can't execute '{}': No such file or directory\n",
                rest[0]
            ))
            .await?;
    }
    Ok(status)
}

/// Seconds from `sleep`'s argument (`1`, `0.5`, `2s`, `1m`, `1h`).
fn parse_duration(text: &str) -> Option<Duration> {
    let (number, scale) = match text.chars().last()? {
        's' => (&text[..text.len() - 1], 1.0),
        'm' => (&text[..text.len() - 1], 60.0),
        'h' => (&text[..text.len() - 1], 3600.0),
        'd' => (&text[..text.len() - 1], 86400.0),
        _ => (text, 1.0),
    };
    let seconds: f64 = number.parse().ok()?;
    // `try_`: `sleep 1e300` must be an invalid number, not a panic in the server.
    Duration::try_from_secs_f64(seconds * scale).ok()
}

async fn sleep(args: &[String], io: &mut Io) -> Result<i32, Closed> {
    if args.is_empty() {
        io.stderr.write("sleep: missing operand\n").await?;
        return Ok(1);
    }
    let mut total = Duration::ZERO;
    for arg in args {
        match parse_duration(arg) {
            // Saturating: tokio sleeps "forever" past its horizon instead of overflowing.
            Some(d) => total = total.saturating_add(d),
            None => {
                io.stderr
                    .write(format!("sleep: invalid number '{arg}'\n"))
                    .await?;
                return Ok(1);
            }
        }
    }
    tokio::time::sleep(total).await;
    Ok(0)
}

async fn head(args: &[String], ctx: &Context, io: &mut Io) -> Result<i32, Closed> {
    let mut bytes: Option<u64> = None;
    let mut lines: u64 = 10;
    let mut files = Vec::new();
    let mut i = 0;
    let bad = |what: &str| format!("head: invalid number '{what}'\n");
    while i < args.len() {
        let arg = &args[i];
        let (flag, inline) = match arg.as_str() {
            a if a.starts_with("-c") => ('c', &a[2..]),
            a if a.starts_with("-n") => ('n', &a[2..]),
            a if a.len() > 1
                && a.starts_with('-')
                && a[1..].chars().all(|c| c.is_ascii_digit()) =>
            {
                lines = a[1..].parse().unwrap_or(10);
                i += 1;
                continue;
            }
            _ => {
                files.push(arg.clone());
                i += 1;
                continue;
            }
        };
        let value = if inline.is_empty() {
            i += 1;
            args.get(i).cloned().unwrap_or_default()
        } else {
            inline.to_string()
        };
        let Ok(number) = value.parse::<u64>() else {
            io.stderr.write(bad(&value)).await?;
            return Ok(1);
        };
        if flag == 'c' {
            bytes = Some(number);
        } else {
            lines = number;
        }
        i += 1;
    }
    if files.is_empty() {
        files.push("-".to_string());
    }
    let mut status = 0;
    for file in files {
        // Feed the file through a small channel so /dev/zero and stdin stay streams.
        let (tx, rx) = mpsc::channel::<Bytes>(4);
        let mut source_io = Io {
            stdin: std::mem::replace(&mut io.stdin, Input::Empty),
            stdout: Output::Channel(tx),
            stderr: io.stderr.clone(),
        };
        let source = async {
            let ok = copy_file("head", &file, ctx, &mut source_io).await;
            drop(source_io.stdout);
            (ok, source_io.stdin)
        };
        let sink = async {
            // Owning the receiver: when enough is read it goes, and the source stops.
            let mut rx = rx;
            let mut remaining_bytes = bytes;
            let mut remaining_lines = lines;
            while let Some(chunk) = rx.recv().await {
                let take = match remaining_bytes.as_mut() {
                    Some(left) => {
                        let n = (*left).min(chunk.len() as u64) as usize;
                        *left -= n as u64;
                        n
                    }
                    None => {
                        let mut n = chunk.len();
                        for (index, b) in chunk.iter().enumerate() {
                            if *b == b'\n' {
                                remaining_lines = remaining_lines.saturating_sub(1);
                                if remaining_lines == 0 {
                                    n = index + 1;
                                    break;
                                }
                            }
                        }
                        if lines == 0 { 0 } else { n }
                    }
                };
                io.stdout.write(chunk.slice(..take)).await?;
                let done = match remaining_bytes {
                    Some(left) => left == 0,
                    None => remaining_lines == 0,
                };
                if done {
                    return Ok::<(), Closed>(());
                }
            }
            Ok(())
        };
        let (sunk, (copied, stdin)) = tokio::join!(sink, source);
        io.stdin = stdin;
        sunk?;
        if matches!(copied, Ok(false)) {
            status = 1;
        }
    }
    Ok(status)
}

async fn id(ctx: &Context, io: &mut Io) -> Result<i32, Closed> {
    let name = |n: u32| {
        if n == 0 {
            "(root)".to_string()
        } else {
            String::new()
        }
    };
    io.stdout
        .write(format!(
            "uid={}{} gid={}{}\n",
            ctx.uid,
            name(ctx.uid),
            ctx.gid,
            name(ctx.gid)
        ))
        .await?;
    Ok(0)
}

async fn tty(ctx: &Context, io: &mut Io) -> Result<i32, Closed> {
    if ctx.interactive {
        io.stdout.write("/dev/pts/0\n").await?;
        Ok(0)
    } else {
        io.stdout.write("not a tty\n").await?;
        Ok(1)
    }
}

async fn stty(args: &[String], ctx: &Context, io: &mut Io) -> Result<i32, Closed> {
    if !ctx.interactive {
        io.stderr.write("stty: standard input: Not a tty\n").await?;
        return Ok(1);
    }
    if args.first().map(String::as_str) == Some("size") {
        let (width, height) = *ctx.window.lock().expect("window lock");
        io.stdout.write(format!("{height} {width}\n")).await?;
    }
    Ok(0)
}

// ---- sh -------------------------------------------------------------------------------

/// A piece of a word: literal text or a variable, quoted or not.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Var(String, bool),
}

type Word = Vec<Part>;

#[derive(Debug, Clone, PartialEq)]
enum Redirect {
    /// `n>file` / `n>>file`.
    ToFile { fd: u8, target: Word, append: bool },
    /// `n>&m`.
    Dup { fd: u8, to: u8 },
    /// `<file`.
    FromFile(Word),
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Simple {
    assigns: Vec<(String, Word)>,
    words: Vec<Word>,
    redirects: Vec<Redirect>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(Word),
    Op(&'static str),
    Redirect(Redirect),
}

/// Splits a script into tokens; `Err` is sh's syntax error text.
fn tokenize(script: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = script.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut word: Word = Vec::new();
    let mut in_word = false;
    let push_text = |word: &mut Word, c: char| match word.last_mut() {
        Some(Part::Text(t)) => t.push(c),
        _ => word.push(Part::Text(c.to_string())),
    };
    fn var_name(chars: &[char], i: &mut usize) -> Option<String> {
        // At chars[*i] == '$'.
        let next = *chars.get(*i + 1)?;
        if next == '{' {
            let end = chars[*i + 2..].iter().position(|&c| c == '}')? + *i + 2;
            let name: String = chars[*i + 2..end].iter().collect();
            *i = end + 1;
            return Some(name);
        }
        if next == '?' || next == '$' || next == '#' || next.is_ascii_digit() {
            *i += 2;
            return Some(next.to_string());
        }
        let len = chars[*i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
            .count();
        if len == 0 {
            return None;
        }
        let name: String = chars[*i + 1..*i + 1 + len].iter().collect();
        *i += 1 + len;
        Some(name)
    }
    let flush = |tokens: &mut Vec<Token>, word: &mut Word, in_word: &mut bool| {
        if *in_word {
            tokens.push(Token::Word(std::mem::take(word)));
            *in_word = false;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => {
                flush(&mut tokens, &mut word, &mut in_word);
                i += 1;
            }
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\n' | ';' => {
                flush(&mut tokens, &mut word, &mut in_word);
                tokens.push(Token::Op(";"));
                i += 1;
            }
            '&' | '|' => {
                flush(&mut tokens, &mut word, &mut in_word);
                let double = chars.get(i + 1) == Some(&c);
                match (c, double) {
                    ('&', true) => tokens.push(Token::Op("&&")),
                    ('|', true) => tokens.push(Token::Op("||")),
                    ('|', false) => tokens.push(Token::Op("|")),
                    _ => return Err("sh: background jobs (&) are not supported".into()),
                }
                i += if double { 2 } else { 1 };
            }
            '>' | '<' => {
                // A bare number right before is the fd: `2>`.
                let fd = match (&word[..], in_word) {
                    ([Part::Text(t)], true)
                        if t.len() == 1 && t.chars().all(|d| d.is_ascii_digit()) =>
                    {
                        let fd = t.parse::<u8>().unwrap_or(1);
                        word.clear();
                        in_word = false;
                        Some(fd)
                    }
                    _ => None,
                };
                flush(&mut tokens, &mut word, &mut in_word);
                if c == '<' {
                    i += 1;
                    tokens.push(Token::Op("<"));
                    continue;
                }
                let fd = fd.unwrap_or(1);
                let append = chars.get(i + 1) == Some(&'>');
                i += if append { 2 } else { 1 };
                if chars.get(i) == Some(&'&') {
                    let to = chars
                        .get(i + 1)
                        .and_then(|d| d.to_digit(10))
                        .ok_or("sh: syntax error: bad fd number")?;
                    tokens.push(Token::Redirect(Redirect::Dup { fd, to: to as u8 }));
                    i += 2;
                } else {
                    tokens.push(Token::Op(if append { ">>" } else { ">" }));
                    tokens.push(Token::Word(vec![Part::Text(fd.to_string())]));
                }
            }
            '\'' => {
                in_word = true;
                let end = chars[i + 1..]
                    .iter()
                    .position(|&q| q == '\'')
                    .ok_or("sh: syntax error: unterminated quoted string")?;
                let text: String = chars[i + 1..i + 1 + end].iter().collect();
                word.push(Part::Text(text));
                i += end + 2;
            }
            '"' => {
                in_word = true;
                i += 1;
                // Mark the word as quoted even when empty.
                word.push(Part::Text(String::new()));
                loop {
                    let Some(&q) = chars.get(i) else {
                        return Err("sh: syntax error: unterminated quoted string".into());
                    };
                    match q {
                        '"' => {
                            i += 1;
                            break;
                        }
                        '\\' if chars.get(i + 1).is_some_and(|n| "$`\"\\\n".contains(*n)) => {
                            push_text(&mut word, chars[i + 1]);
                            i += 2;
                        }
                        '$' => match var_name(&chars, &mut i) {
                            Some(name) => word.push(Part::Var(name, true)),
                            None => {
                                push_text(&mut word, '$');
                                i += 1;
                            }
                        },
                        other => {
                            push_text(&mut word, other);
                            i += 1;
                        }
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(&next) = chars.get(i + 1)
                    && next != '\n'
                {
                    push_text(&mut word, next);
                }
                i += 2;
            }
            '$' => {
                in_word = true;
                match var_name(&chars, &mut i) {
                    Some(name) => word.push(Part::Var(name, false)),
                    None => {
                        push_text(&mut word, '$');
                        i += 1;
                    }
                }
            }
            '(' | ')' | '`' => {
                return Err(format!(
                    "sh: syntax error: {c} is not supported by lxd-testkit"
                ));
            }
            other => {
                in_word = true;
                push_text(&mut word, other);
                i += 1;
            }
        }
    }
    flush(&mut tokens, &mut word, &mut in_word);
    Ok(tokens)
}

/// `a | b && c ; d`: and-or lists of pipelines of simple commands.
#[derive(Debug, Clone, PartialEq)]
struct AndOr {
    first: Vec<Simple>,
    rest: Vec<(bool, Vec<Simple>)>, // (is_and, pipeline)
}

fn parse(tokens: Vec<Token>) -> Result<Vec<AndOr>, String> {
    let mut lists = Vec::new();
    let mut pipeline: Vec<Simple> = Vec::new();
    let mut current = Simple::default();
    let mut pending: Option<(bool, Vec<Simple>)> = None;
    let mut list: Option<AndOr> = None;
    let mut iter = tokens.into_iter().peekable();
    let syntax = |what: &str| format!("sh: syntax error: unexpected {what:?}");
    let finish_simple = |current: &mut Simple, pipeline: &mut Vec<Simple>| -> Result<(), String> {
        if current.words.is_empty() && current.assigns.is_empty() && current.redirects.is_empty() {
            return Err("empty".into());
        }
        pipeline.push(std::mem::take(current));
        Ok(())
    };
    let finish_pipeline =
        |pipeline: &mut Vec<Simple>, list: &mut Option<AndOr>, is_and: Option<bool>| {
            let done = std::mem::take(pipeline);
            match (list.as_mut(), is_and) {
                (None, _) => {
                    *list = Some(AndOr {
                        first: done,
                        rest: Vec::new(),
                    })
                }
                (Some(l), Some(and)) => l.rest.push((and, done)),
                (Some(l), None) => l.rest.push((true, done)),
            }
        };
    while let Some(token) = iter.next() {
        match token {
            Token::Word(word) => {
                let is_assign = current.words.is_empty()
                    && matches!(word.first(), Some(Part::Text(t)) if t.split_once('=').is_some_and(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !k.starts_with(|c: char| c.is_ascii_digit())));
                if is_assign {
                    let Some(Part::Text(first)) = word.first() else {
                        unreachable!()
                    };
                    let (key, value) = first.split_once('=').expect("checked");
                    let mut value_word = vec![Part::Text(value.to_string())];
                    value_word.extend(word[1..].iter().cloned());
                    current.assigns.push((key.to_string(), value_word));
                } else {
                    current.words.push(word);
                }
            }
            Token::Redirect(r) => current.redirects.push(r),
            Token::Op(op @ (">" | ">>")) => {
                let Some(Token::Word(fd)) = iter.next() else {
                    return Err(syntax(op));
                };
                let fd = match fd.first() {
                    Some(Part::Text(t)) => t.parse().unwrap_or(1),
                    _ => 1,
                };
                let Some(Token::Word(target)) = iter.next() else {
                    return Err("sh: syntax error: unexpected newline".into());
                };
                current.redirects.push(Redirect::ToFile {
                    fd,
                    target,
                    append: op == ">>",
                });
            }
            Token::Op("<") => {
                let Some(Token::Word(target)) = iter.next() else {
                    return Err("sh: syntax error: unexpected newline".into());
                };
                current.redirects.push(Redirect::FromFile(target));
            }
            Token::Op("|") => {
                finish_simple(&mut current, &mut pipeline).map_err(|_| syntax("|"))?;
            }
            Token::Op(op @ ("&&" | "||")) => {
                finish_simple(&mut current, &mut pipeline).map_err(|_| syntax(op))?;
                let is_and = pending.take().map(|(and, _)| and);
                finish_pipeline(&mut pipeline, &mut list, is_and);
                pending = Some((op == "&&", Vec::new()));
            }
            Token::Op(";") => {
                if finish_simple(&mut current, &mut pipeline).is_err() {
                    if pending.is_some() || !pipeline.is_empty() {
                        return Err(syntax(";"));
                    }
                    continue;
                }
                let is_and = pending.take().map(|(and, _)| and);
                finish_pipeline(&mut pipeline, &mut list, is_and);
                lists.extend(list.take());
            }
            Token::Op(other) => return Err(syntax(other)),
        }
    }
    match finish_simple(&mut current, &mut pipeline) {
        Ok(()) => {
            let is_and = pending.take().map(|(and, _)| and);
            finish_pipeline(&mut pipeline, &mut list, is_and);
        }
        Err(_) if pending.is_some() || !pipeline.is_empty() => {
            return Err("sh: syntax error: unexpected end of file".into());
        }
        Err(_) => {}
    }
    lists.extend(list.take());
    Ok(lists)
}

/// The shell's own state.
struct Shell {
    vars: BTreeMap<String, String>,
    status: i32,
}

impl Shell {
    fn expand(&self, word: &Word, ctx: &Context) -> Option<String> {
        let mut out = String::new();
        let mut only_unquoted_empty_vars = true;
        for part in word {
            match part {
                Part::Text(t) => {
                    out.push_str(t);
                    only_unquoted_empty_vars = false;
                }
                Part::Var(name, quoted) => {
                    let value = match name.as_str() {
                        "?" => self.status.to_string(),
                        "$" => "1".to_string(),
                        "#" => "0".to_string(),
                        n => self
                            .vars
                            .get(n)
                            .or_else(|| ctx.env.get(n))
                            .cloned()
                            .unwrap_or_default(),
                    };
                    if *quoted || !value.is_empty() {
                        only_unquoted_empty_vars = false;
                    }
                    out.push_str(&value);
                }
            }
        }
        // An unquoted variable that expands to nothing is no word at all.
        (!only_unquoted_empty_vars || !out.is_empty()).then_some(out)
    }
}

/// How a list ended.
enum Flow {
    Next(i32),
    Exit(i32),
}

/// `sh -c SCRIPT [NAME [ARGS]]`, or `sh` reading its script from stdin line by line.
async fn sh(args: &[String], ctx: &mut Context, io: &mut Io) -> i32 {
    let mut shell = Shell {
        vars: BTreeMap::new(),
        status: 0,
    };
    let mut ctx = ctx.clone();
    if let Some(index) = args.iter().position(|a| a == "-c") {
        let Some(script) = args.get(index + 1) else {
            let _ = io.stderr.write("sh: -c requires an argument\n").await;
            return 2;
        };
        return match run_script(script, &mut shell, &mut ctx, io).await {
            Flow::Next(code) | Flow::Exit(code) => code,
        };
    }
    // Interactive-ish: one line at a time from stdin.
    let mut pending = String::new();
    loop {
        if ctx.interactive && io.stdout.write(format!("{} # ", ctx.cwd)).await.is_err() {
            return SIGPIPE_STATUS;
        }
        let line = loop {
            if let Some(pos) = pending.find('\n') {
                let line: String = pending.drain(..=pos).collect();
                break Some(line);
            }
            match io.stdin.read().await {
                Some(chunk) => pending.push_str(&String::from_utf8_lossy(&chunk)),
                None if pending.is_empty() => break None,
                None => break Some(std::mem::take(&mut pending)),
            }
        };
        let Some(line) = line else {
            return shell.status;
        };
        if let Flow::Exit(code) = run_script(&line, &mut shell, &mut ctx, io).await {
            return code;
        }
    }
}

async fn run_script(script: &str, shell: &mut Shell, ctx: &mut Context, io: &mut Io) -> Flow {
    let lists = match tokenize(script).and_then(parse) {
        Ok(lists) => lists,
        Err(message) => {
            let _ = io.stderr.write(format!("{message}\n")).await;
            shell.status = 2;
            return Flow::Next(2);
        }
    };
    for list in lists {
        let mut flow = run_pipeline(&list.first, shell, ctx, io).await;
        for (is_and, pipeline) in &list.rest {
            let Flow::Next(code) = flow else { break };
            if (code == 0) != *is_and {
                continue;
            }
            flow = run_pipeline(pipeline, shell, ctx, io).await;
        }
        match flow {
            Flow::Next(code) => shell.status = code,
            Flow::Exit(code) => return Flow::Exit(code),
        }
    }
    Flow::Next(shell.status)
}

async fn run_pipeline(
    pipeline: &[Simple],
    shell: &mut Shell,
    ctx: &mut Context,
    io: &mut Io,
) -> Flow {
    if pipeline.len() == 1 {
        return run_simple(&pipeline[0], shell, ctx, io).await;
    }
    // Each stage reads what the previous one writes.
    let mut stages = Vec::new();
    let mut next_input = Some(std::mem::replace(&mut io.stdin, Input::Empty));
    for (index, simple) in pipeline.iter().enumerate() {
        let last = index + 1 == pipeline.len();
        let (stdout, following) = if last {
            (io.stdout.clone(), None)
        } else {
            let (tx, rx) = mpsc::channel::<Bytes>(8);
            (Output::Channel(tx), Some(Input::Channel(rx)))
        };
        let stage_io = Io {
            stdin: next_input.take().unwrap_or(Input::Empty),
            stdout,
            stderr: io.stderr.clone(),
        };
        next_input = following;
        stages.push((simple.clone(), stage_io));
    }
    let vars = shell.vars.clone();
    let status = shell.status;
    let futures =
        stages
            .into_iter()
            .enumerate()
            .map(|(index, (simple, mut stage_io))| {
                let mut stage_shell = Shell {
                    vars: vars.clone(),
                    status,
                };
                let mut stage_ctx = ctx.clone();
                async move {
                    let code =
                        match run_simple(&simple, &mut stage_shell, &mut stage_ctx, &mut stage_io)
                            .await
                        {
                            Flow::Next(code) | Flow::Exit(code) => code,
                        };
                    // A finished stage lets go of its pipe at once, so the stage writing into it
                    // stops (SIGPIPE); only the first stage's input is the shell's to keep.
                    let Io { stdin, .. } = stage_io;
                    (code, (index == 0).then_some(stdin))
                }
            });
    let results = futures::future::join_all(futures).await;
    let code = results.last().map_or(0, |(code, _)| *code);
    if let Some((_, Some(stdin))) = results.into_iter().next() {
        io.stdin = stdin;
    }
    Flow::Next(code)
}

fn run_simple<'a>(
    simple: &'a Simple,
    shell: &'a mut Shell,
    ctx: &'a mut Context,
    io: &'a mut Io,
) -> BoxFuture<'a, Flow> {
    Box::pin(async move {
        let words: Vec<String> = simple
            .words
            .iter()
            .filter_map(|w| shell.expand(w, ctx))
            .collect();
        let assigns: Vec<(String, String)> = simple
            .assigns
            .iter()
            .map(|(k, w)| (k.clone(), shell.expand(w, ctx).unwrap_or_default()))
            .collect();
        if words.is_empty() {
            for (k, v) in assigns {
                shell.vars.insert(k, v);
            }
            return Flow::Next(0);
        }
        // Redirections.
        let mut stdout = io.stdout.clone();
        let mut stderr = io.stderr.clone();
        let mut stdin_override: Option<Input> = None;
        // Redirected output: (file, what the command writes there).
        let mut captures: Vec<(String, mpsc::Receiver<Bytes>)> = Vec::new();
        for redirect in &simple.redirects {
            match redirect {
                Redirect::Dup { fd, to } => {
                    let target = if *to == 2 {
                        stderr.clone()
                    } else {
                        stdout.clone()
                    };
                    if *fd == 2 {
                        stderr = target;
                    } else {
                        stdout = target;
                    }
                }
                Redirect::ToFile { fd, target, append } => {
                    let path = shell.expand(target, ctx).unwrap_or_default();
                    let output = match path.as_str() {
                        "/dev/null" => Output::Null,
                        "/dev/stdout" => io.stdout.clone(),
                        "/dev/stderr" => io.stderr.clone(),
                        _ => {
                            let full = crate::fs::join(&ctx.cwd, &path);
                            // Open it now, like the shell: `>` truncates, `>>` creates.
                            if let Err(e) = ctx.files.write(&full, Bytes::new(), *append) {
                                let _ = io
                                    .stderr
                                    .write(format!("sh: can't create {path}: {}\n", describe(&e)))
                                    .await;
                                return Flow::Next(1);
                            }
                            let (tx, rx) = mpsc::channel::<Bytes>(8);
                            captures.push((full, rx));
                            Output::Channel(tx)
                        }
                    };
                    if *fd == 2 {
                        stderr = output;
                    } else {
                        stdout = output;
                    }
                }
                Redirect::FromFile(target) => {
                    let path = shell.expand(target, ctx).unwrap_or_default();
                    let input = match path.as_str() {
                        "/dev/null" => Input::Empty,
                        _ => match ctx.files.read(&crate::fs::join(&ctx.cwd, &path)) {
                            Ok(data) => Input::Data(Some(data)),
                            Err(e) => {
                                let _ = io
                                    .stderr
                                    .write(format!("sh: can't open {path}: {}\n", describe(&e)))
                                    .await;
                                return Flow::Next(1);
                            }
                        },
                    };
                    stdin_override = Some(input);
                }
            }
        }
        let files = ctx.files.clone();
        // File writers drain their channels concurrently with the command (the file was
        // truncated already for `>`, so every chunk appends).
        let writers = futures::future::join_all(captures.into_iter().map(|(path, mut rx)| {
            let files = files.clone();
            async move {
                while let Some(chunk) = rx.recv().await {
                    let _ = files.write(&path, chunk, true);
                }
            }
        }));
        let name = words[0].rsplit('/').next().unwrap_or_default().to_string();
        // The command borrows the shell's stdin (what it does not read stays for the next
        // command), unless a redirection gave it its own.
        let redirected = stdin_override.is_some();
        let stdin = match stdin_override {
            Some(input) => input,
            None => std::mem::replace(&mut io.stdin, Input::Empty),
        };
        let command = async {
            let mut local = Io {
                stdin,
                stdout,
                stderr,
            };
            let flow = match name.as_str() {
                "exit" => {
                    let code = match words.get(1) {
                        None => shell.status,
                        Some(arg) => arg.parse::<i32>().map(|c| c & 0xff).unwrap_or(2),
                    };
                    Flow::Exit(code)
                }
                "cd" => {
                    let target = words
                        .get(1)
                        .cloned()
                        .unwrap_or_else(|| ctx.env.get("HOME").cloned().unwrap_or("/".into()));
                    let full = crate::fs::join(&ctx.cwd, &target);
                    if ctx.files.is_dir(&full) {
                        ctx.cwd = full;
                        Flow::Next(0)
                    } else {
                        let _ = local
                            .stderr
                            .write(format!(
                                "sh: cd: can't cd to {target}: No such file or directory\n"
                            ))
                            .await;
                        Flow::Next(2)
                    }
                }
                "export" => {
                    for arg in &words[1..] {
                        match arg.split_once('=') {
                            Some((k, v)) => {
                                ctx.env.insert(k.to_string(), v.to_string());
                            }
                            None => {
                                if let Some(v) = shell.vars.get(arg) {
                                    ctx.env.insert(arg.clone(), v.clone());
                                }
                            }
                        }
                    }
                    Flow::Next(0)
                }
                ":" => Flow::Next(0),
                _ => {
                    let mut child_ctx = ctx.clone();
                    for (k, v) in &assigns {
                        child_ctx.env.insert(k.clone(), v.clone());
                    }
                    let code = run(words.clone(), &mut child_ctx, &mut local).await;
                    if code == NOT_FOUND && !COMMANDS.contains(&name.as_str()) {
                        let _ = local
                            .stderr
                            .write(format!("sh: {}: not found\n", words[0]))
                            .await;
                    }
                    Flow::Next(code)
                }
            };
            // Output channels close here; stdin goes back to the shell.
            (flow, local.stdin)
        };
        let ((flow, stdin), _) = tokio::join!(command, writers);
        if !redirected {
            io.stdin = stdin;
        }
        flow
    })
}

fn describe(e: &FsError) -> &'static str {
    match e {
        FsError::NotFound => "nonexistent directory",
        FsError::IsDirectory(_) => "Is a directory",
        FsError::NotDirectory(_) => "Not a directory",
        _ => "I/O error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::Fs;

    /// Regression: `sleep 1e300` (any exec client can send it) panicked in
    /// `Duration::from_secs_f64`; a sum past `Duration::MAX` panicked in `+=`.
    #[test]
    fn sleep_durations_never_panic() {
        assert_eq!(parse_duration("1e300"), None);
        assert_eq!(parse_duration("1e18d"), None);
        assert_eq!(parse_duration("-1"), None);
        assert_eq!(parse_duration("nan"), None);
        assert_eq!(parse_duration("inf"), None);
        assert_eq!(parse_duration("é"), None);
        assert_eq!(parse_duration("1.5m"), Some(Duration::from_secs(90)));
    }

    struct MemFiles(Mutex<Fs>);

    impl Files for MemFiles {
        fn read(&self, path: &str) -> Result<Bytes, FsError> {
            self.0.lock().unwrap().read(path)
        }
        fn write(&self, path: &str, data: Bytes, append: bool) -> Result<(), FsError> {
            self.0.lock().unwrap().write(path, data, append, None)
        }
        fn is_dir(&self, path: &str) -> bool {
            self.0
                .lock()
                .unwrap()
                .stat(path)
                .is_ok_and(|n| n.type_name() == "directory")
        }
    }

    fn context(interactive: bool) -> (Context, Arc<MemFiles>) {
        let files = Arc::new(MemFiles(Mutex::new(Fs::busybox())));
        let ctx = Context {
            env: BTreeMap::from([
                ("HOME".to_string(), "/root".to_string()),
                ("PATH".to_string(), "/bin".to_string()),
            ]),
            cwd: "/root".into(),
            uid: 0,
            gid: 0,
            interactive,
            window: Arc::new(Mutex::new((80, 24))),
            files: files.clone(),
        };
        (ctx, files)
    }

    /// Runs argv with `stdin`, returns (status, stdout, stderr).
    async fn exec(argv: &[&str], stdin: &str) -> (i32, String, String) {
        let (mut ctx, _files) = context(false);
        exec_in(&mut ctx, argv, stdin).await
    }

    async fn exec_in(ctx: &mut Context, argv: &[&str], stdin: &str) -> (i32, String, String) {
        let (out_tx, mut out_rx) = mpsc::channel(64);
        let (err_tx, mut err_rx) = mpsc::channel(64);
        let (in_tx, in_rx) = mpsc::channel(4);
        let stdin = Bytes::from(stdin.to_string());
        tokio::spawn(async move {
            if !stdin.is_empty() {
                let _ = in_tx.send(stdin).await;
            }
        });
        let mut io = Io {
            stdin: Input::Channel(in_rx),
            stdout: Output::Channel(out_tx),
            stderr: Output::Channel(err_tx),
        };
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let collect = |mut rx: mpsc::Receiver<Bytes>| async move {
            let mut out = Vec::new();
            while let Some(chunk) = rx.recv().await {
                out.extend_from_slice(&chunk);
            }
            String::from_utf8_lossy(&out).into_owned()
        };
        let status = async {
            let code = run(argv, ctx, &mut io).await;
            drop(io);
            code
        };
        let (status, out, err) = tokio::join!(
            status,
            collect(out_rx_take(&mut out_rx)),
            collect(out_rx_take(&mut err_rx))
        );
        (status, out, err)
    }

    fn out_rx_take(rx: &mut mpsc::Receiver<Bytes>) -> mpsc::Receiver<Bytes> {
        let (_tx, empty) = mpsc::channel(1);
        std::mem::replace(rx, empty)
    }

    #[tokio::test]
    async fn plain_commands() {
        assert_eq!(
            exec(&["echo", "hi", "there"], "").await,
            (0, "hi there\n".into(), "".into())
        );
        assert_eq!(exec(&["/bin/echo", "-n", "x"], "").await.1, "x");
        assert_eq!(exec(&["echo", "-e", "a\\tb"], "").await.1, "a\tb\n");
        assert_eq!(
            exec(&["cat"], "piped").await,
            (0, "piped".into(), "".into())
        );
        assert_eq!(exec(&["true"], "").await.0, 0);
        assert_eq!(exec(&["false"], "").await.0, 1);
        assert_eq!(exec(&["pwd"], "").await.1, "/root\n");
        assert!(exec(&["env"], "").await.1.contains("HOME=/root\n"));
        assert_eq!(
            exec(&["head", "-c", "5", "/dev/zero"], "").await.1,
            "\0\0\0\0\0"
        );
        assert_eq!(exec(&["head", "-n", "1"], "a\nb\n").await.1, "a\n");
        assert_eq!(exec(&["sleep", "0.01"], "").await.0, 0);
        assert_eq!(exec(&["sleep", "x"], "").await.0, 1);
        let (code, _, err) = exec(&["cat", "/nope"], "").await;
        assert_eq!(code, 1);
        assert_eq!(err, "cat: can't open '/nope': No such file or directory\n");
        assert_eq!(exec(&["cat", "/etc/hostname"], "").await.1, "busybox\n");
        assert_eq!(exec(&["nosuch"], "").await.0, NOT_FOUND);
        assert_eq!(
            exec(&["exit", "3"], "").await.0,
            NOT_FOUND,
            "exit is no program"
        );
        assert_eq!(exec(&["stty", "size"], "").await.0, 1);
    }

    #[tokio::test]
    async fn shell_scripts() {
        let sh = |script: &'static str| async move { exec(&["sh", "-c", script], "").await };
        assert_eq!(sh("exit 3").await.0, 3);
        assert_eq!(sh("echo a; exit 4").await, (4, "a\n".into(), "".into()));
        assert_eq!(sh("false && echo no || echo yes").await.1, "yes\n");
        assert_eq!(sh("true && echo a && echo b").await.1, "a\nb\n");
        assert_eq!(
            sh("echo out; echo err >&2").await,
            (0, "out\n".into(), "err\n".into())
        );
        assert_eq!(sh("echo err 1>&2 2>/dev/null").await.2, "err\n");
        assert_eq!(sh("nosuch 2>/dev/null; echo $?").await.1, "127\n");
        assert_eq!(sh("X=1; echo \"x=$X\" '$X' ${X}y").await.1, "x=1 $X 1y\n");
        assert_eq!(sh("echo hi | cat | cat").await.1, "hi\n");
        assert_eq!(sh("head -c 100000 /dev/zero | head -c 3").await.1.len(), 3);
        assert_eq!(sh("cat /dev/zero | head -c 2").await.1, "\0\0");
        assert_eq!(sh("echo $HOME $NOPE.").await.1, "/root .\n");
        assert_eq!(sh("cd /tmp && pwd").await.1, "/tmp\n");
        assert_eq!(sh("echo 'unterminated").await.0, 2);
        assert_eq!(sh("A=5 env | grep -q x").await.0, NOT_FOUND);
        assert!(sh("A=5 env").await.1.contains("A=5\n"));
    }

    #[tokio::test]
    async fn redirections_touch_the_file_system() {
        let (mut ctx, files) = context(false);
        let (code, out, _) = exec_in(
            &mut ctx,
            &[
                "sh",
                "-c",
                "echo one > /tmp/f; echo two >> /tmp/f; cat < /tmp/f",
            ],
            "",
        )
        .await;
        assert_eq!((code, out.as_str()), (0, "one\ntwo\n"));
        assert_eq!(files.read("/tmp/f").unwrap(), "one\ntwo\n");
        let (code, _, err) = exec_in(&mut ctx, &["sh", "-c", "echo x > /nodir/f"], "").await;
        assert_eq!(code, 1);
        assert!(err.starts_with("sh: can't create /nodir/f"), "{err}");
    }

    #[tokio::test]
    async fn sh_reads_its_script_from_stdin() {
        assert_eq!(
            exec(&["sh"], "echo a\nexit 7\necho never\n").await,
            (7, "a\n".into(), "".into())
        );
        let (mut ctx, _) = context(true);
        assert_eq!(exec_in(&mut ctx, &["stty", "size"], "").await.1, "24 80\n");
        assert_eq!(
            exec_in(&mut ctx, &["tty"], "").await,
            (0, "/dev/pts/0\n".into(), "".into())
        );
    }
}
