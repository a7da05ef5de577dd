//! The part of Python's `argparse` (3.11, what cloud-init 22.4 runs on) that
//! cloud-init's command line uses, so that cloudboot reads the same command
//! lines the same way and says the same things about the wrong ones.
//!
//! What that means, as argparse does it:
//! - a parser's options come before its subcommand; everything after the
//!   subcommand is the subcommand's (`query -v FILE` is query's `-v`, not the
//!   global `--version`);
//! - each parser has its own `-h/--help`, printed in argparse's layout;
//! - `--opt=value`, `-oVALUE`, `-lw` (flags run together), unique prefixes of
//!   long options (`--loc` is `--local`), `--` ends the options;
//! - usage errors print the parser's usage and `PROG: error: MESSAGE` on
//!   stderr and exit 2, in argparse's words ("unrecognized arguments: ...",
//!   "argument --mode/-m: invalid choice: ...", "the following arguments are
//!   required: ...").
//!
//! Differences from argparse, on purpose: a parser does not look at its
//! subcommand's arguments at all (argparse also matches them against its own
//! long options' prefixes, so `cloud-init status --f json` fails as
//! "ambiguous"; cloudboot leaves `--f` to `status`), and a subcommand can
//! take its arguments raw (`per`, which has a command line of its own).
//!
//! `tests/fixtures/cli` holds what argparse itself answers to a list of
//! command lines; `tests/cli_args.rs` checks cloudboot against it.

use std::collections::{HashMap, HashSet};

use crate::value::python_str_repr;

/// What an option or positional does when it is given.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Action {
    /// `store_true`.
    Flag,
    /// `store`: one value, the last one given wins.
    Store,
    /// `append`: every value, in order.
    Append,
    /// `-h/--help`: print this parser's help, exit 0.
    Help,
    /// `--version`: print the text, exit 0.
    Version(String),
}

/// How many values a positional or an option takes (argparse's `nargs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nargs {
    /// Exactly one (`nargs=None`).
    One,
    /// Zero or one (`?`).
    Optional,
    /// Any number (`*`).
    Any,
    /// One or more (`+`).
    OneOrMore,
}

/// A value check run when the value is taken (argparse's `type=`); the
/// error is the message after `argument NAME: `.
pub type Check = fn(&str) -> Result<(), String>;

/// One option (`flags` given) or positional (no flags).
#[derive(Clone, Debug)]
pub struct Arg {
    flags: Vec<&'static str>,
    dest: String,
    action: Action,
    nargs: Nargs,
    metavar: Option<String>,
    choices: Vec<&'static str>,
    required: bool,
    /// The value when it is not given (argparse's `default=`).
    default: Option<String>,
    help: String,
    check: Option<Check>,
}

impl Arg {
    fn option(flags: &[&'static str], action: Action, help: &str) -> Arg {
        // argparse's dest: the first long option, else the first short one.
        let name = flags
            .iter()
            .find(|f| f.starts_with("--"))
            .or(flags.first())
            .copied()
            .unwrap_or_default();
        Arg {
            flags: flags.to_vec(),
            dest: name.trim_start_matches('-').replace('-', "_"),
            action,
            nargs: Nargs::One,
            metavar: None,
            choices: Vec::new(),
            required: false,
            default: None,
            help: help.to_string(),
            check: None,
        }
    }

    /// An option that is on or off (`action="store_true"`).
    pub fn flag(flags: &[&'static str], help: &str) -> Arg {
        Arg::option(flags, Action::Flag, help)
    }

    /// An option with one value; the last one given wins.
    pub fn value(flags: &[&'static str], help: &str) -> Arg {
        Arg::option(flags, Action::Store, help)
    }

    /// An option with one or more values (`nargs="+"`): it takes the
    /// arguments up to the next option or `--`.
    pub fn values(flags: &[&'static str], help: &str) -> Arg {
        let mut arg = Arg::option(flags, Action::Store, help);
        arg.nargs = Nargs::OneOrMore;
        arg
    }

    /// An option that may be given several times (`action="append"`).
    pub fn append(flags: &[&'static str], help: &str) -> Arg {
        Arg::option(flags, Action::Append, help)
    }

    /// `--version`: prints `text`.
    pub fn version(flags: &[&'static str], text: &str, help: &str) -> Arg {
        Arg::option(flags, Action::Version(text.to_string()), help)
    }

    /// A positional argument.
    pub fn positional(name: &str, nargs: Nargs, help: &str) -> Arg {
        Arg {
            flags: Vec::new(),
            dest: name.to_string(),
            action: Action::Store,
            nargs,
            metavar: None,
            choices: Vec::new(),
            required: nargs == Nargs::One,
            default: None,
            help: help.to_string(),
            check: None,
        }
    }

    pub fn dest(mut self, dest: &str) -> Arg {
        self.dest = dest.to_string();
        self
    }

    pub fn metavar(mut self, metavar: &str) -> Arg {
        self.metavar = Some(metavar.to_string());
        self
    }

    pub fn choices(mut self, choices: &[&'static str]) -> Arg {
        self.choices = choices.to_vec();
        self
    }

    /// The value [`Matches::value`] gives when the option is not given.
    pub fn default(mut self, value: &str) -> Arg {
        self.default = Some(value.to_string());
        self
    }

    pub fn required(mut self) -> Arg {
        self.required = true;
        self
    }

    pub fn check(mut self, check: Check) -> Arg {
        self.check = Some(check);
        self
    }

    fn is_positional(&self) -> bool {
        self.flags.is_empty()
    }

    fn takes_value(&self) -> bool {
        matches!(self.action, Action::Store | Action::Append)
    }

    /// argparse's `_get_action_name`: how errors name it.
    fn name(&self) -> String {
        if !self.flags.is_empty() {
            self.flags.join("/")
        } else {
            self.metavar.clone().unwrap_or_else(|| self.dest.clone())
        }
    }

    /// The word shown for the value: the metavar, `{a,b}` for choices, else
    /// the dest (upper-cased for options).
    fn shown_metavar(&self) -> String {
        if let Some(m) = &self.metavar {
            m.clone()
        } else if !self.choices.is_empty() {
            format!("{{{}}}", self.choices.join(","))
        } else if self.is_positional() {
            self.dest.clone()
        } else {
            self.dest.to_uppercase()
        }
    }

    /// The value words of usage and help (`_format_args`): `DOCS`, or
    /// `DOCS [DOCS ...]` for one or more.
    fn shown_values(&self) -> String {
        let m = self.shown_metavar();
        match self.nargs {
            Nargs::OneOrMore => format!("{m} [{m} ...]"),
            _ => m,
        }
    }
}

/// A subcommand: its name, its line in the parent's help, and how its
/// arguments are read.
pub struct Command {
    name: &'static str,
    help: String,
    args: CommandArgs,
}

enum CommandArgs {
    /// By its own parser.
    Parsed(Parser),
    /// Not at all: passed on as they are (a command line of its own).
    Raw,
}

struct Subcommands {
    title: String,
    dest: String,
    commands: Vec<Command>,
}

/// An argument parser: its options and positionals, and maybe subcommands.
pub struct Parser {
    prog: String,
    description: Option<String>,
    args: Vec<Arg>,
    sub: Option<Subcommands>,
}

/// What was given on the command line.
#[derive(Debug, Default)]
pub struct Matches {
    values: HashMap<String, Vec<String>>,
    flags: HashSet<String>,
    command: Option<(String, Box<Matches>)>,
    /// The arguments of a raw subcommand.
    raw: Vec<String>,
}

impl Matches {
    /// Whether the flag `dest` was given.
    pub fn flag(&self, dest: &str) -> bool {
        self.flags.contains(dest)
    }

    /// The value of `dest` (the last one given), if any.
    pub fn value(&self, dest: &str) -> Option<&str> {
        self.values
            .get(dest)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Every value of `dest` (an appended option, a `*` positional).
    pub fn values(&self, dest: &str) -> &[String] {
        self.values.get(dest).map(Vec::as_slice).unwrap_or_default()
    }

    /// The subcommand given and its own matches.
    pub fn command(&self) -> Option<(&str, &Matches)> {
        self.command.as_ref().map(|(n, m)| (n.as_str(), &**m))
    }

    /// The untouched arguments of a raw subcommand.
    pub fn raw(&self) -> &[String] {
        &self.raw
    }
}

/// Parsing ended without a command to run: help or version (exit 0, on
/// stdout) or a usage error (exit 2, on stderr).
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    Help(String),
    Version(String),
    Error(String),
}

impl Exit {
    /// Prints it where argparse does and returns the exit code.
    pub fn report(&self) -> i32 {
        match self {
            Exit::Help(text) | Exit::Version(text) => {
                print!("{text}");
                0
            }
            Exit::Error(text) => {
                eprint!("{text}");
                2
            }
        }
    }
}

/// How one argument string was read: an option (maybe unknown), a
/// positional, or the `--` that ends the options.
#[derive(Clone)]
enum Slot<'p> {
    Positional,
    DashDash,
    Option {
        arg: Option<&'p Arg>,
        string: String,
        explicit: Option<String>,
    },
}

impl Slot<'_> {
    /// argparse's pattern letter: `A`rgument, `O`ption, `-` for `--`.
    fn letter(&self) -> char {
        match self {
            Slot::Positional => 'A',
            Slot::DashDash => '-',
            Slot::Option { .. } => 'O',
        }
    }
}

impl Parser {
    pub fn new(prog: &str) -> Parser {
        Parser {
            prog: prog.to_string(),
            description: None,
            args: vec![Arg::option(
                &["-h", "--help"],
                Action::Help,
                "show this help message and exit",
            )],
            sub: None,
        }
    }

    pub fn description(mut self, text: &str) -> Parser {
        self.description = Some(text.to_string());
        self
    }

    pub fn arg(mut self, arg: Arg) -> Parser {
        self.args.push(arg);
        self
    }

    /// Adds the subcommands (`add_subparsers(title=..., dest=...)`, required).
    pub fn subcommands(mut self, title: &str, dest: &str) -> Parser {
        self.sub = Some(Subcommands {
            title: title.to_string(),
            dest: dest.to_string(),
            commands: Vec::new(),
        });
        self
    }

    /// Adds a subcommand; `build` adds its arguments to its parser.
    pub fn command(
        mut self,
        name: &'static str,
        help: &str,
        build: impl FnOnce(Parser) -> Parser,
    ) -> Parser {
        let parser = build(Parser::new(&format!("{} {name}", self.prog)));
        self.sub_mut().commands.push(Command {
            name,
            help: help.to_string(),
            args: CommandArgs::Parsed(parser),
        });
        self
    }

    /// Adds a subcommand that takes everything after it as it is.
    pub fn raw_command(mut self, name: &'static str, help: &str) -> Parser {
        self.sub_mut().commands.push(Command {
            name,
            help: help.to_string(),
            args: CommandArgs::Raw,
        });
        self
    }

    fn sub_mut(&mut self) -> &mut Subcommands {
        self.sub
            .as_mut()
            .expect("subcommands() comes before command()")
    }

    /// Parses `args` (without the program name), as `parse_args` does.
    pub fn parse(&self, args: &[String]) -> Result<Matches, Exit> {
        let (matches, extras) = self.parse_known(args)?;
        if !extras.is_empty() {
            return Err(self.error(&format!("unrecognized arguments: {}", extras.join(" "))));
        }
        Ok(matches)
    }

    /// `parse_known_args`: the matches and the arguments nobody took.
    fn parse_known(&self, args: &[String]) -> Result<(Matches, Vec<String>), Exit> {
        let slots = self.classify(args)?;
        let mut run = Run {
            parser: self,
            args,
            slots: &slots,
            matches: Matches::default(),
            extras: Vec::new(),
            seen: HashSet::new(),
            positionals: self.positionals(),
        };
        run.go().map_err(|e| match e {
            Stop::Usage(msg) => self.error(&msg),
            Stop::Exit(exit) => exit,
        })?;
        let Run {
            matches, extras, ..
        } = run;
        Ok((matches, extras))
    }

    /// The positionals in order, the subcommand slot last.
    fn positionals(&self) -> Vec<Positional<'_>> {
        let mut out: Vec<Positional> = self
            .args
            .iter()
            .filter(|a| a.is_positional())
            .map(Positional::Arg)
            .collect();
        if let Some(sub) = &self.sub {
            out.push(Positional::Sub(sub));
        }
        out
    }

    /// Reads each argument as an option, a positional or `--`
    /// (`_parse_optional` for each). In a parser with subcommands, the first
    /// positional that is not an option's value is the subcommand, and what
    /// follows is left to it unread.
    fn classify(&self, args: &[String]) -> Result<Vec<Slot<'_>>, Exit> {
        let mut slots: Vec<Slot> = Vec::with_capacity(args.len());
        let mut options_ended = false;
        let mut subcommand_seen = false;
        for a in args {
            let value_expected = slots.last().is_some_and(|s| self.wants_value(s));
            if options_ended || subcommand_seen {
                slots.push(Slot::Positional);
            } else if a == "--" {
                options_ended = true;
                slots.push(Slot::DashDash);
            } else {
                let slot = self.read_option(a)?;
                subcommand_seen =
                    self.sub.is_some() && matches!(slot, Slot::Positional) && !value_expected;
                slots.push(slot);
            }
        }
        Ok(slots)
    }

    /// Whether the option read into `slot` takes the next argument as its
    /// value (also at the end of flags run together: `-df FILE`).
    fn wants_value(&self, slot: &Slot) -> bool {
        let Slot::Option {
            arg: Some(arg),
            string,
            explicit,
        } = slot
        else {
            return false;
        };
        let Some(explicit) = explicit else {
            return arg.takes_value();
        };
        if arg.takes_value() || string[1..].starts_with('-') {
            return false;
        }
        let mut rest = explicit.as_str();
        while let Some(c) = rest.chars().next() {
            rest = &rest[c.len_utf8()..];
            match self.find_option(&format!("-{c}")) {
                Some(a) if a.takes_value() => return rest.is_empty(),
                Some(_) => {}
                None => return false,
            }
        }
        false
    }

    fn option_strings(&self) -> impl Iterator<Item = (&'static str, &Arg)> {
        self.args
            .iter()
            .flat_map(|a| a.flags.iter().map(move |f| (*f, a)))
    }

    fn find_option(&self, s: &str) -> Option<&Arg> {
        self.option_strings().find(|(f, _)| *f == s).map(|(_, a)| a)
    }

    fn read_option(&self, a: &str) -> Result<Slot<'_>, Exit> {
        let option = |arg, string: &str, explicit: Option<&str>| Slot::Option {
            arg,
            string: string.to_string(),
            explicit: explicit.map(str::to_string),
        };
        if !a.starts_with('-') {
            return Ok(Slot::Positional);
        }
        if let Some(arg) = self.find_option(a) {
            return Ok(option(Some(arg), a, None));
        }
        if a.len() == 1 {
            return Ok(Slot::Positional);
        }
        if let Some((name, value)) = a.split_once('=') {
            if let Some(arg) = self.find_option(name) {
                return Ok(option(Some(arg), name, Some(value)));
            }
        }
        // Abbreviations (`--loc`) and short options with their value
        // attached (`-fX`, `-lw`).
        let mut found: Vec<Slot> = Vec::new();
        if a.starts_with("--") {
            let (prefix, explicit) = match a.split_once('=') {
                Some((p, v)) => (p, Some(v)),
                None => (a, None),
            };
            for (f, arg) in self.option_strings() {
                if f.starts_with(prefix) {
                    found.push(option(Some(arg), f, explicit));
                }
            }
        } else {
            let (short, attached) = a.split_at(a.char_indices().nth(2).map_or(a.len(), |(i, _)| i));
            for (f, arg) in self.option_strings() {
                if f == short {
                    found.push(option(Some(arg), f, Some(attached)));
                } else if f.starts_with(a) {
                    found.push(option(Some(arg), f, None));
                }
            }
        }
        if found.len() > 1 {
            let names: Vec<String> = found
                .iter()
                .filter_map(|s| match s {
                    Slot::Option { string, .. } => Some(string.clone()),
                    _ => None,
                })
                .collect();
            return Err(self.error(&format!(
                "ambiguous option: {a} could match {}",
                names.join(", ")
            )));
        }
        if let Some(slot) = found.pop() {
            return Ok(slot);
        }
        // A negative number, or a string with a space, is a value.
        if is_negative_number(a) || a.contains(' ') {
            return Ok(Slot::Positional);
        }
        Ok(option(None, a, None))
    }

    /// `usage: ...` and `PROG: error: MESSAGE`, as `ArgumentParser.error`.
    fn error(&self, message: &str) -> Exit {
        Exit::Error(format!(
            "{}{}: error: {message}\n",
            self.format_usage(),
            self.prog
        ))
    }

    /// The usage line(s), as `print_usage` prints them.
    pub fn format_usage(&self) -> String {
        let width = help_width();
        format!("usage: {}\n", self.usage_body(width))
    }

    /// The whole `--help` text.
    pub fn format_help(&self) -> String {
        let width = help_width();
        let mut out = format!("usage: {}\n\n", self.usage_body(width));
        if let Some(d) = &self.description {
            out.push_str(&wrap(d, width.max(11)).join("\n"));
            out.push_str("\n\n");
        }
        // Every invocation decides where the help column starts.
        let max_len = self
            .args
            .iter()
            .map(|a| invocation(a).len() + 2)
            .chain(self.sub.iter().flat_map(|s| {
                std::iter::once(s.choices_metavar().len() + 2)
                    .chain(s.commands.iter().map(|c| c.name.len() + 2))
            }))
            .max()
            .unwrap_or(0);
        let layout = Layout::new(width, max_len);
        let positionals: Vec<&Arg> = self.args.iter().filter(|a| a.is_positional()).collect();
        let options: Vec<&Arg> = self.args.iter().filter(|a| !a.is_positional()).collect();
        let mut sections = Vec::new();
        if !positionals.is_empty() {
            let items: String = positionals
                .iter()
                .map(|a| layout.item(2, &invocation(a), &a.help))
                .collect();
            sections.push(format!("positional arguments:\n{items}"));
        }
        if !options.is_empty() {
            let items: String = options
                .iter()
                .map(|a| layout.item(2, &invocation(a), &a.help))
                .collect();
            sections.push(format!("options:\n{items}"));
        }
        if let Some(sub) = &self.sub {
            let mut items = layout.item(2, &sub.choices_metavar(), "");
            for c in &sub.commands {
                items.push_str(&layout.item(4, c.name, &c.help));
            }
            sections.push(format!("{}:\n{items}", sub.title));
        }
        out.push_str(&sections.join("\n"));
        out
    }

    /// argparse's `_format_usage`, after `usage: `.
    fn usage_body(&self, width: usize) -> String {
        let opt_usage: Vec<String> = self
            .args
            .iter()
            .filter(|a| !a.is_positional())
            .map(|a| {
                let part = if a.takes_value() {
                    format!("{} {}", a.flags[0], a.shown_values())
                } else {
                    a.flags[0].to_string()
                };
                if a.required {
                    part
                } else {
                    format!("[{part}]")
                }
            })
            .collect();
        let mut pos_usage: Vec<String> = self
            .args
            .iter()
            .filter(|a| a.is_positional())
            .map(|a| match a.nargs {
                Nargs::One => a.shown_metavar(),
                Nargs::Optional => format!("[{}]", a.shown_metavar()),
                Nargs::Any => format!("[{} ...]", a.shown_metavar()),
                Nargs::OneOrMore => a.shown_values(),
            })
            .collect();
        if let Some(sub) = &self.sub {
            pos_usage.push(format!("{} ...", sub.choices_metavar()));
        }
        let opt_usage = opt_usage.join(" ");
        let pos_usage = pos_usage.join(" ");
        let all = [opt_usage.as_str(), pos_usage.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let usage = [self.prog.as_str(), all.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        const PREFIX: &str = "usage: ";
        if PREFIX.len() + usage.len() <= width {
            return usage;
        }
        let opt_parts = usage_parts(&opt_usage);
        let pos_parts = usage_parts(&pos_usage);
        let lines = if (PREFIX.len() + self.prog.len()) as f64 <= 0.75 * width as f64 {
            let indent = " ".repeat(PREFIX.len() + self.prog.len() + 1);
            let mut first = vec![self.prog.clone()];
            if !opt_parts.is_empty() {
                first.extend(opt_parts);
                let mut lines = usage_lines(&first, &indent, Some(PREFIX), width);
                lines.extend(usage_lines(&pos_parts, &indent, None, width));
                lines
            } else if !pos_parts.is_empty() {
                first.extend(pos_parts);
                usage_lines(&first, &indent, Some(PREFIX), width)
            } else {
                first
            }
        } else {
            let indent = " ".repeat(PREFIX.len());
            let parts: Vec<String> = opt_parts.iter().chain(&pos_parts).cloned().collect();
            let mut lines = usage_lines(&parts, &indent, None, width);
            if lines.len() > 1 {
                lines = usage_lines(&opt_parts, &indent, None, width);
                lines.extend(usage_lines(&pos_parts, &indent, None, width));
            }
            let mut all = vec![self.prog.clone()];
            all.extend(lines);
            all
        };
        lines.join("\n")
    }
}

impl Subcommands {
    fn choices_metavar(&self) -> String {
        let names: Vec<&str> = self.commands.iter().map(|c| c.name).collect();
        format!("{{{}}}", names.join(","))
    }
}

/// A positional slot: an argument, or the subcommand.
enum Positional<'p> {
    Arg(&'p Arg),
    Sub(&'p Subcommands),
}

impl Positional<'_> {
    /// Which runs of pattern letters it can take, most preferred first (the
    /// order a regex engine tries argparse's `_get_nargs_pattern`).
    fn lengths(&self, pattern: &[char]) -> Vec<usize> {
        let dashes = |from: usize| {
            pattern[from.min(pattern.len())..]
                .iter()
                .take_while(|c| **c == '-')
                .count()
        };
        let mut out = Vec::new();
        match self {
            // `(-*A[-AO]*)`: everything from the first A on.
            Positional::Sub(_) => {
                let d = dashes(0);
                if pattern.get(d) == Some(&'A') {
                    out.push(pattern.len());
                }
            }
            Positional::Arg(a) => match a.nargs {
                // `(-*A-*)` and `(-*A?-*)`.
                Nargs::One | Nargs::Optional => {
                    for lead in (0..=dashes(0)).rev() {
                        let with_a = pattern.get(lead) == Some(&'A');
                        let counts: &[usize] = match (with_a, a.nargs) {
                            (true, Nargs::One) => &[1],
                            (true, _) => &[1, 0],
                            (false, Nargs::One) => &[],
                            (false, _) => &[0],
                        };
                        for &n in counts {
                            for trail in (0..=dashes(lead + n)).rev() {
                                out.push(lead + n + trail);
                            }
                        }
                    }
                }
                // `(-*A[A-]*)`: the longest run first.
                Nargs::OneOrMore => {
                    let d = dashes(0);
                    if pattern.get(d) == Some(&'A') {
                        let run = pattern[d + 1..].iter().take_while(|c| **c != 'O').count();
                        out.extend((d + 1..=d + 1 + run).rev());
                    }
                }
                // `(-*[A-]*)`.
                Nargs::Any => {
                    let run = pattern.iter().take_while(|c| **c != 'O').count();
                    out.extend((0..=run).rev());
                }
            },
        }
        out
    }
}

/// Why a run stopped: a usage error (reported by the parser that found it)
/// or an exit already formed (help, version, a subcommand's own error).
enum Stop {
    Usage(String),
    Exit(Exit),
}

impl From<Exit> for Stop {
    fn from(e: Exit) -> Stop {
        Stop::Exit(e)
    }
}

/// One `parse_known_args` in progress.
struct Run<'p, 'a> {
    parser: &'p Parser,
    args: &'a [String],
    slots: &'a [Slot<'p>],
    matches: Matches,
    extras: Vec<String>,
    /// The dests of the arguments taken so far, for the required check.
    seen: HashSet<String>,
    positionals: Vec<Positional<'p>>,
}

impl Run<'_, '_> {
    /// argparse's main loop: positionals before each option, the option,
    /// then the positionals at the end.
    fn go(&mut self) -> Result<(), Stop> {
        let option_indices: Vec<usize> = (0..self.slots.len())
            .filter(|i| matches!(self.slots[*i], Slot::Option { .. }))
            .collect();
        let last_option = option_indices.last().copied();
        let mut start = 0;
        while last_option.is_some_and(|last| start <= last) {
            let next = option_indices
                .iter()
                .copied()
                .find(|i| *i >= start)
                .expect("an option at or after start");
            if start != next {
                let end = self.consume_positionals(start)?;
                if end > start {
                    start = end;
                    continue;
                }
                start = end;
            }
            if !option_indices.contains(&start) {
                self.extras.extend(self.args[start..next].iter().cloned());
                start = next;
            }
            start = self.consume_option(start)?;
        }
        let stop = self.consume_positionals(start)?;
        self.extras.extend(self.args[stop..].iter().cloned());
        self.check_required()?;
        for arg in &self.parser.args {
            if let Some(d) = &arg.default {
                self.matches
                    .values
                    .entry(arg.dest.clone())
                    .or_insert_with(|| vec![d.clone()]);
            }
        }
        Ok(())
    }

    fn pattern_from(&self, start: usize) -> Vec<char> {
        self.slots[start..].iter().map(Slot::letter).collect()
    }

    /// Matches as many positionals as possible against the arguments from
    /// `start` (`_match_arguments_partial`), and takes them.
    fn consume_positionals(&mut self, mut start: usize) -> Result<usize, Stop> {
        let pattern = self.pattern_from(start);
        let counts = (1..=self.positionals.len())
            .rev()
            .find_map(|n| match_all(&self.positionals[..n], &pattern))
            .unwrap_or_default();
        let taken: Vec<Positional> = self.positionals.drain(..counts.len()).collect();
        for (pos, count) in taken.into_iter().zip(counts) {
            let strings = &self.args[start..start + count];
            start += count;
            match pos {
                Positional::Arg(arg) => self.take_positional(arg, strings)?,
                Positional::Sub(sub) => self.take_subcommand(sub, strings)?,
            }
        }
        Ok(start)
    }

    fn take_positional(&mut self, arg: &Arg, strings: &[String]) -> Result<(), Stop> {
        self.seen.insert(arg.dest.clone());
        let mut values = strings.to_vec();
        // The first `--` only separates; it is not a value.
        if let Some(i) = values.iter().position(|s| s == "--") {
            values.remove(i);
        }
        for v in &values {
            check_value(arg, v)?;
        }
        if !values.is_empty() || arg.nargs == Nargs::Any {
            self.matches.values.insert(arg.dest.clone(), values);
        }
        Ok(())
    }

    fn take_subcommand(&mut self, sub: &Subcommands, strings: &[String]) -> Result<(), Stop> {
        let name = &strings[0];
        let Some(cmd) = sub.commands.iter().find(|c| c.name == name.as_str()) else {
            let names: Vec<String> = sub
                .commands
                .iter()
                .map(|c| python_str_repr(c.name))
                .collect();
            return Err(Stop::Usage(format!(
                "argument {}: invalid choice: {} (choose from {})",
                sub.dest,
                python_str_repr(name),
                names.join(", ")
            )));
        };
        let rest = &strings[1..];
        let sub_matches = match &cmd.args {
            CommandArgs::Raw => Matches {
                raw: rest.to_vec(),
                ..Matches::default()
            },
            CommandArgs::Parsed(parser) => {
                let (m, extras) = parser.parse_known(rest)?;
                self.extras.extend(extras);
                m
            }
        };
        self.matches.command = Some((name.clone(), Box::new(sub_matches)));
        Ok(())
    }

    /// Takes the option at `start` and its value; returns where the next
    /// argument starts (`consume_optional`). Flags run together (`-lw`) are
    /// read one by one, and taken only when all of them could be read.
    fn consume_option(&mut self, start: usize) -> Result<usize, Stop> {
        let Slot::Option {
            arg,
            mut string,
            mut explicit,
        } = self.slots[start].clone()
        else {
            unreachable!("consume_option is called on options only");
        };
        let Some(mut arg) = arg else {
            self.extras.push(self.args[start].clone());
            return Ok(start + 1);
        };
        if arg.nargs == Nargs::OneOrMore && explicit.is_none() {
            return self.consume_values(arg, start);
        }
        let ignored = |arg: &Arg, value: &str| {
            Stop::Usage(format!(
                "argument {}: ignored explicit argument {}",
                arg.name(),
                python_str_repr(value)
            ))
        };
        let mut taken: Vec<(&Arg, Option<String>)> = Vec::new();
        let stop = loop {
            match explicit.take() {
                None if !arg.takes_value() => {
                    taken.push((arg, None));
                    break start + 1;
                }
                None => match self.slots.get(start + 1) {
                    Some(Slot::Positional) => {
                        taken.push((arg, Some(self.args[start + 1].clone())));
                        break start + 2;
                    }
                    _ => {
                        return Err(Stop::Usage(format!(
                            "argument {}: expected one argument",
                            arg.name()
                        )))
                    }
                },
                Some(value) if arg.takes_value() => {
                    taken.push((arg, Some(value)));
                    break start + 1;
                }
                Some(value) if !string[1..].starts_with('-') && !value.is_empty() => {
                    taken.push((arg, None));
                    let first = value.chars().next().map_or(0, char::len_utf8);
                    string = format!("-{}", &value[..first]);
                    let rest = &value[first..];
                    arg = self
                        .parser
                        .find_option(&string)
                        .ok_or_else(|| ignored(arg, &value))?;
                    explicit = (!rest.is_empty()).then(|| rest.to_string());
                }
                Some(value) => return Err(ignored(arg, &value)),
            }
        };
        for (arg, value) in taken {
            self.take_option(arg, value.as_deref())?;
        }
        Ok(stop)
    }

    /// An option of one or more values without `=`: the arguments up to
    /// the next option or `--` (argparse's `A[A]*` for an optional).
    fn consume_values(&mut self, arg: &Arg, start: usize) -> Result<usize, Stop> {
        let n = self.slots[start + 1..]
            .iter()
            .take_while(|s| matches!(s, Slot::Positional))
            .count();
        if n == 0 {
            return Err(Stop::Usage(format!(
                "argument {}: expected at least one argument",
                arg.name()
            )));
        }
        let values = self.args[start + 1..start + 1 + n].to_vec();
        for v in &values {
            check_value(arg, v)?;
        }
        self.seen.insert(arg.dest.clone());
        self.matches.values.insert(arg.dest.clone(), values);
        Ok(start + 1 + n)
    }

    fn take_option(&mut self, arg: &Arg, value: Option<&str>) -> Result<(), Stop> {
        self.seen.insert(arg.dest.clone());
        match (&arg.action, value) {
            (Action::Help, _) => return Err(Exit::Help(self.parser.format_help()).into()),
            (Action::Version(text), _) => return Err(Exit::Version(format!("{text}\n")).into()),
            (Action::Flag, _) => {
                self.matches.flags.insert(arg.dest.clone());
            }
            (Action::Store, Some(v)) => {
                check_value(arg, v)?;
                self.matches
                    .values
                    .insert(arg.dest.clone(), vec![v.to_string()]);
            }
            (Action::Append, Some(v)) => {
                check_value(arg, v)?;
                self.matches
                    .values
                    .entry(arg.dest.clone())
                    .or_default()
                    .push(v.to_string());
            }
            (Action::Store | Action::Append, None) => {
                unreachable!("a value is found before an option that takes one")
            }
        }
        Ok(())
    }

    fn check_required(&self) -> Result<(), Stop> {
        let mut missing: Vec<String> = self
            .parser
            .args
            .iter()
            .filter(|a| a.required && !self.seen.contains(&a.dest))
            .map(Arg::name)
            .collect();
        if let Some(sub) = &self.parser.sub {
            if self.matches.command.is_none() {
                missing.push(sub.dest.clone());
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Stop::Usage(format!(
                "the following arguments are required: {}",
                missing.join(", ")
            )))
        }
    }
}

/// Lengths for each of `positionals` that together match the start of
/// `pattern`, preferring what a regex engine prefers (greedy, left first).
fn match_all(positionals: &[Positional], pattern: &[char]) -> Option<Vec<usize>> {
    let Some((first, rest)) = positionals.split_first() else {
        return Some(Vec::new());
    };
    first.lengths(pattern).into_iter().find_map(|n| {
        let mut tail = match_all(rest, &pattern[n..])?;
        tail.insert(0, n);
        Some(tail)
    })
}

fn check_value(arg: &Arg, value: &str) -> Result<(), Stop> {
    if let Some(check) = arg.check {
        check(value).map_err(|e| Stop::Usage(format!("argument {}: {e}", arg.name())))?;
    }
    if !arg.choices.is_empty() && !arg.choices.contains(&value) {
        let choices: Vec<String> = arg.choices.iter().map(|c| python_str_repr(c)).collect();
        return Err(Stop::Usage(format!(
            "argument {}: invalid choice: {} (choose from {})",
            arg.name(),
            python_str_repr(value),
            choices.join(", ")
        )));
    }
    Ok(())
}

/// `^-\d+$|^-\d*\.\d+$`
fn is_negative_number(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('-') else {
        return false;
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    match rest.split_once('.') {
        None => digits(rest),
        Some((int, frac)) => (int.is_empty() || digits(int)) && digits(frac),
    }
}

/// How an argument is shown in the help: `-h, --help`,
/// `--file FILES, -f FILES`, `varname`.
fn invocation(a: &Arg) -> String {
    if a.is_positional() {
        a.shown_metavar()
    } else if a.takes_value() {
        let m = a.shown_values();
        a.flags
            .iter()
            .map(|f| format!("{f} {m}"))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        a.flags.join(", ")
    }
}

/// The help column, as `HelpFormatter` works it out.
struct Layout {
    width: usize,
    help_position: usize,
}

impl Layout {
    fn new(width: usize, max_action_length: usize) -> Layout {
        let max_help_position = 24.min(width.saturating_sub(20).max(4));
        Layout {
            width,
            help_position: (max_action_length + 2).min(max_help_position),
        }
    }

    /// One entry: the invocation, then its help beside it (or under it when
    /// the invocation is too long), wrapped.
    fn item(&self, indent: usize, header: &str, help: &str) -> String {
        let help_width = self.width.saturating_sub(self.help_position).max(11);
        let action_width = self.help_position.saturating_sub(indent + 2);
        let pad = " ".repeat(indent);
        if help.is_empty() {
            return format!("{pad}{header}\n");
        }
        let lines = wrap(help, help_width);
        let mut out = if header.len() <= action_width {
            format!("{pad}{header:<action_width$}  {}\n", lines[0])
        } else {
            format!(
                "{pad}{header}\n{}{}\n",
                " ".repeat(self.help_position),
                lines[0]
            )
        };
        for l in &lines[1..] {
            out.push_str(&format!("{}{l}\n", " ".repeat(self.help_position)));
        }
        out
    }
}

/// argparse's width: `$COLUMNS`, else the terminal's, else 80; less 2.
fn help_width() -> usize {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
        .or_else(terminal_columns)
        .unwrap_or(80);
    columns.saturating_sub(2)
}

fn terminal_columns() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills a winsize; on a pipe it fails and we fall back.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0)
            .then_some(ws.ws_col as usize)
    }
}

/// Splits usage text as argparse does before wrapping it: a `[...]`
/// group stays whole, anything else splits at spaces.
fn usage_parts(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if chars[i] == '[' {
            // `\[.*?\]+(?=\s|$)`: the first `]`s followed by a space or the end.
            let mut j = i + 1;
            let mut end = None;
            while j < chars.len() {
                if chars[j] == ']' {
                    let mut k = j;
                    while k < chars.len() && chars[k] == ']' {
                        k += 1;
                    }
                    if k == chars.len() || chars[k].is_whitespace() {
                        end = Some(k);
                        break;
                    }
                }
                j += 1;
            }
            if let Some(k) = end {
                parts.push(chars[start..k].iter().collect());
                i = k;
                continue;
            }
        }
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        parts.push(chars[start..i].iter().collect());
    }
    parts
}

/// argparse's `get_lines`: fills parts into lines of `width`.
fn usage_lines(parts: &[String], indent: &str, prefix: Option<&str>, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line: Vec<&str> = Vec::new();
    let mut line_len = match prefix {
        Some(p) => p.len().saturating_sub(1),
        None => indent.len().saturating_sub(1),
    };
    for part in parts {
        if line_len + 1 + part.len() > width && !line.is_empty() {
            lines.push(format!("{indent}{}", line.join(" ")));
            line.clear();
            line_len = indent.len().saturating_sub(1);
        }
        line.push(part);
        line_len += part.len() + 1;
    }
    if !line.is_empty() {
        lines.push(format!("{indent}{}", line.join(" ")));
    }
    if prefix.is_some() {
        if let Some(first) = lines.first_mut() {
            *first = first[indent.len()..].to_string();
        }
    }
    lines
}

/// Python's `textwrap.wrap` with its defaults, after argparse has made all
/// whitespace single spaces: words break after a hyphen between letters
/// (`instance-` / `data`), a word longer than a line is cut.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let width = width.max(1);
    let mut chunks: Vec<String> = chunks(&text);
    chunks.reverse();
    let mut lines: Vec<String> = Vec::new();
    while !chunks.is_empty() {
        let mut line: Vec<String> = Vec::new();
        let mut len = 0;
        if !lines.is_empty() && chunks.last().is_some_and(|c| c.trim().is_empty()) {
            chunks.pop();
        }
        while let Some(c) = chunks.last() {
            let l = c.chars().count();
            if len + l <= width {
                len += l;
                line.push(chunks.pop().expect("a chunk"));
            } else {
                break;
            }
        }
        if let Some(c) = chunks.last_mut() {
            let cs: Vec<char> = c.chars().collect();
            if cs.len() > width {
                // `_handle_long_word`: cut it, after a hyphen when there is one.
                let space_left = width - len;
                let mut end = space_left;
                let hyphen = cs[..space_left].iter().rposition(|ch| *ch == '-');
                if let Some(h) = hyphen.filter(|h| *h > 0 && cs[..*h].iter().any(|ch| *ch != '-')) {
                    end = h + 1;
                }
                line.push(cs[..end].iter().collect());
                *c = cs[end..].iter().collect();
            }
        }
        if line.last().is_some_and(|c| c.trim().is_empty()) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(line.concat());
        }
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// textwrap's chunks: runs of spaces, and words split after hyphens that
/// join letters (its `wordsep_re`).
fn chunks(text: &str) -> Vec<String> {
    let is_letter = |c: char| c.is_alphabetic() || c == '_';
    let mut out = Vec::new();
    for (i, piece) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(" ".to_string());
        }
        let cs: Vec<char> = piece.chars().collect();
        let mut start = 0;
        for j in 0..cs.len() {
            if cs[j] != '-' || j + 1 >= cs.len() {
                continue;
            }
            let two_letters_before = j >= 2 && is_letter(cs[j - 1]) && is_letter(cs[j - 2]);
            let letter_hyphen_letter_before =
                j >= 3 && is_letter(cs[j - 1]) && cs[j - 2] == '-' && is_letter(cs[j - 3]);
            let after = &cs[j + 1..];
            let letters_after = match after {
                [a, b, ..] if is_letter(*a) && is_letter(*b) => true,
                [a, '-', b, ..] if is_letter(*a) && is_letter(*b) => true,
                _ => false,
            };
            if (two_letters_before || letter_hyphen_letter_before) && letters_after {
                out.push(cs[start..=j].iter().collect());
                start = j + 1;
            }
        }
        if start < cs.len() || cs.is_empty() {
            out.push(cs[start..].iter().collect());
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

/// Python's `str(OSError)` for a path: `[Errno 2] No such file or
/// directory: 'x'`, as argparse's `FileType` shows it.
pub fn os_error(e: &std::io::Error, path: &str) -> String {
    let text = e.to_string();
    let strerror = text
        .rsplit_once(" (os error")
        .map(|(t, _)| t.to_string())
        .unwrap_or(text);
    match e.raw_os_error() {
        Some(n) => format!("[Errno {n}] {strerror}: {}", python_str_repr(path)),
        None => format!("{strerror}: {}", python_str_repr(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textwrap_breaks_after_hyphens_between_letters_only() {
        assert_eq!(
            chunks("instance-data base64-encoded x-y"),
            ["instance-", "data", " ", "base64-encoded", " ", "x-y"]
        );
    }

    #[test]
    fn wrap_fills_lines_greedily() {
        assert_eq!(
            wrap(
                "List query keys available at the provided instance-data <varname>.",
                54
            ),
            [
                "List query keys available at the provided instance-",
                "data <varname>."
            ]
        );
    }

    #[test]
    fn short_options_with_any_characters_attached() {
        let p = Parser::new("p").arg(Arg::value(&["-f", "--format"], "x"));
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let m = p.parse(&args(&["-fé"])).unwrap();
        assert_eq!(m.value("format"), Some("é"));
        assert!(matches!(p.parse(&args(&["-é"])), Err(Exit::Error(_))));
    }

    /// `nargs="+"` on an option, as `cloud-init schema --docs` has it.
    #[test]
    fn an_option_of_one_or_more_values_takes_them_up_to_the_next_option() {
        let p = Parser::new("p")
            .arg(Arg::values(&["-d", "--docs"], "x"))
            .arg(Arg::flag(&["--system"], "y"));
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let m = p.parse(&args(&["--docs", "a", "b", "--system"])).unwrap();
        assert_eq!(m.values("docs"), ["a", "b"]);
        assert!(m.flag("system"));
        assert_eq!(p.parse(&args(&["-d=all"])).unwrap().values("docs"), ["all"]);
        assert_eq!(p.parse(&args(&["-dall"])).unwrap().values("docs"), ["all"]);
        let Err(Exit::Error(e)) = p.parse(&args(&["--docs", "--system"])) else {
            panic!("accepted");
        };
        assert!(
            e.ends_with("p: error: argument -d/--docs: expected at least one argument\n"),
            "{e}"
        );
        assert!(
            p.format_usage()
                .ends_with(" [-d DOCS [DOCS ...]] [--system]\n"),
            "{}",
            p.format_usage()
        );
        assert!(p
            .format_help()
            .contains("  -d DOCS [DOCS ...], --docs DOCS [DOCS ...]\n"));
    }

    #[test]
    fn negative_numbers_are_values() {
        assert!(is_negative_number("-5"));
        assert!(is_negative_number("-.5"));
        assert!(!is_negative_number("-x"));
        assert!(!is_negative_number("-"));
    }
}
