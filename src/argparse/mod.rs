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

mod help;
mod run;

use help::*;
use run::*;

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
    /// Left out of help and usage (argparse's `help=SUPPRESS`).
    hidden: bool,
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
            hidden: false,
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
            hidden: false,
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

    /// Works as ever but is not shown in help or usage (argparse's
    /// `help=argparse.SUPPRESS`): cloudboot's own options on a parser whose
    /// help and usage errors must be cloud-init's.
    pub fn hidden(mut self) -> Arg {
        self.hidden = true;
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
    /// Runs when given, but is not in the `{a,b}` list, the help or the
    /// "invalid choice" error: a cloudboot command under a cloud-init parser.
    hidden: bool,
}

enum CommandArgs {
    /// By its own parser, made when the command is given: a run pays for
    /// its own command's arguments, not every command's.
    Parsed {
        prog: String,
        build: Box<dyn Fn(Parser) -> Parser>,
    },
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
    /// Text after the options (argparse's `epilog=`).
    epilog: Option<String>,
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

impl Parser {
    pub fn new(prog: &str) -> Parser {
        Parser {
            prog: prog.to_string(),
            description: None,
            epilog: None,
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

    pub fn epilog(mut self, text: &str) -> Parser {
        self.epilog = Some(text.to_string());
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

    /// Adds a subcommand; `build` adds its arguments to its parser (when
    /// the command is given).
    pub fn command(
        mut self,
        name: &'static str,
        help: &str,
        build: impl Fn(Parser) -> Parser + 'static,
    ) -> Parser {
        let prog = format!("{} {name}", self.prog);
        self.sub_mut().commands.push(Command {
            name,
            help: help.to_string(),
            args: CommandArgs::Parsed {
                prog,
                build: Box::new(build),
            },
            hidden: false,
        });
        self
    }

    /// As [`Parser::command`], for a command that is not shown (see
    /// [`Command`]'s `hidden`).
    pub fn hidden_command(
        self,
        name: &'static str,
        help: &str,
        build: impl Fn(Parser) -> Parser + 'static,
    ) -> Parser {
        let mut parser = self.command(name, help, build);
        if let Some(c) = parser.sub_mut().commands.last_mut() {
            c.hidden = true;
        }
        parser
    }

    /// Every subcommand's parser, made (for a test that each can be).
    pub fn command_parsers(&self) -> Vec<Parser> {
        let commands = self.sub.iter().flat_map(|s| &s.commands);
        let parsed = commands.filter_map(|c| match &c.args {
            CommandArgs::Parsed { prog, build } => Some(build(Parser::new(prog))),
            CommandArgs::Raw => None,
        });
        parsed.collect()
    }

    /// Adds a subcommand that takes everything after it as it is.
    pub fn raw_command(mut self, name: &'static str, help: &str) -> Parser {
        self.sub_mut().commands.push(Command {
            name,
            help: help.to_string(),
            args: CommandArgs::Raw,
            hidden: false,
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
            // A hidden option is cloudboot's own on cloud-init's parser:
            // only its whole name is it, so cloud-init's abbreviations
            // (`schema --d` for `--docs`) stay unambiguous.
            for (f, arg) in self.option_strings().filter(|(_, a)| !a.hidden) {
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
            .shown_args()
            .map(|a| invocation(a).len() + 2)
            .chain(self.sub.iter().flat_map(|s| {
                std::iter::once(s.choices_metavar().len() + 2)
                    .chain(s.shown_commands().map(|c| c.name.len() + 2))
            }))
            .max()
            .unwrap_or(0);
        let layout = Layout::new(width, max_len);
        let positionals: Vec<&Arg> = self.shown_args().filter(|a| a.is_positional()).collect();
        let options: Vec<&Arg> = self.shown_args().filter(|a| !a.is_positional()).collect();
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
            for c in sub.shown_commands() {
                items.push_str(&layout.item(4, c.name, &c.help));
            }
            sections.push(format!("{}:\n{items}", sub.title));
        }
        out.push_str(&sections.join("\n"));
        if let Some(e) = &self.epilog {
            out.push('\n');
            out.push_str(&wrap(e, width.max(11)).join("\n"));
            out.push('\n');
        }
        out
    }

    /// The arguments help and usage show.
    fn shown_args(&self) -> impl Iterator<Item = &Arg> {
        self.args.iter().filter(|a| !a.hidden)
    }

    /// argparse's `_format_usage`, after `usage: `.
    fn usage_body(&self, width: usize) -> String {
        let opt_usage: Vec<String> = self
            .shown_args()
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
            .shown_args()
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
        let names: Vec<&str> = self.shown_commands().map(|c| c.name).collect();
        format!("{{{}}}", names.join(","))
    }

    fn shown_commands(&self) -> impl Iterator<Item = &Command> {
        self.commands.iter().filter(|c| !c.hidden)
    }
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

    /// What Python 3.11's argparse prints for a parser with an option of
    /// `help=SUPPRESS` (`--hid`), and which a hidden command joins: neither
    /// is shown in help, usage or the "invalid choice" list, both work.
    #[test]
    fn hidden_options_and_commands_work_unseen() {
        let p = Parser::new("p")
            .arg(Arg::value(&["--a"], "x"))
            .arg(Arg::value(&["--hid"], "never shown").hidden())
            .arg(Arg::value(&["-c"], "y"))
            .subcommands("T", "d")
            .command("one", "o", |p| p)
            .hidden_command("mine", "never shown", |p| p.arg(Arg::flag(&["--z"], "z")))
            .epilog("Example: p one");
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            p.format_help(),
            "usage: p [-h] [--a A] [-c C] {one} ...\n\noptions:\n  -h, --help  show this help \
             message and exit\n  --a A       x\n  -c C        y\n\nT:\n  {one}\n    one       \
             o\n\nExample: p one\n"
        );
        let m = p.parse(&args(&["--hid", "v", "mine", "--z"])).unwrap();
        assert_eq!(m.value("hid"), Some("v"));
        assert_eq!(
            p.parse(&args(&["--hid=w", "one"])).unwrap().value("hid"),
            Some("w")
        );
        // Not an abbreviation of the hidden one: `--h` is `--help` alone.
        assert!(matches!(p.parse(&args(&["--h"])), Err(Exit::Help(_))));
        let Err(Exit::Error(e)) = p.parse(&args(&["--hi", "one"])) else {
            panic!("--hi accepted");
        };
        assert!(
            e.ends_with("p: error: unrecognized arguments: --hi\n"),
            "{e}"
        );
        assert!(m.command().unwrap().1.flag("z"));
        let Err(Exit::Error(e)) = p.parse(&args(&["--hid"])) else {
            panic!("accepted");
        };
        assert_eq!(
            e,
            "usage: p [-h] [--a A] [-c C] {one} ...\np: error: argument --hid: expected one argument\n"
        );
        let Err(Exit::Error(e)) = p.parse(&args(&["two"])) else {
            panic!("accepted");
        };
        assert!(
            e.ends_with("p: error: argument d: invalid choice: 'two' (choose from 'one')\n"),
            "{e}"
        );
    }

    #[test]
    fn negative_numbers_are_values() {
        assert!(is_negative_number("-5"));
        assert!(is_negative_number("-.5"));
        assert!(!is_negative_number("-x"));
        assert!(!is_negative_number("-"));
    }
}
