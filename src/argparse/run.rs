//! Reading one parser's argument strings as argparse's `_parse_known_args`
//! does: each string classified (option, positional, `--`), the pattern of
//! letters matched against the positionals' `nargs`, values checked.

use std::collections::HashSet;

use super::*;

/// How one argument string was read: an option (maybe unknown), a
/// positional, or the `--` that ends the options.
#[derive(Clone)]
pub(super) enum Slot<'p> {
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
    pub(super) fn letter(&self) -> char {
        match self {
            Slot::Positional => 'A',
            Slot::DashDash => '-',
            Slot::Option { .. } => 'O',
        }
    }
}

/// A positional slot: an argument, or the subcommand.
pub(super) enum Positional<'p> {
    Arg(&'p Arg),
    Sub(&'p Subcommands),
}

impl Positional<'_> {
    /// Which runs of pattern letters it can take, most preferred first (the
    /// order a regex engine tries argparse's `_get_nargs_pattern`).
    pub(super) fn lengths(&self, pattern: &[char]) -> Vec<usize> {
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
pub(super) enum Stop {
    Usage(String),
    Exit(Exit),
}

impl From<Exit> for Stop {
    fn from(e: Exit) -> Stop {
        Stop::Exit(e)
    }
}

/// One `parse_known_args` in progress.
pub(super) struct Run<'p, 'a> {
    pub(super) parser: &'p Parser,
    pub(super) args: &'a [String],
    pub(super) slots: &'a [Slot<'p>],
    pub(super) matches: Matches,
    pub(super) extras: Vec<String>,
    /// The dests of the arguments taken so far, for the required check.
    pub(super) seen: HashSet<String>,
    pub(super) positionals: Vec<Positional<'p>>,
}

impl Run<'_, '_> {
    /// argparse's main loop: positionals before each option, the option,
    /// then the positionals at the end.
    pub(super) fn go(&mut self) -> Result<(), Stop> {
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

    pub(super) fn pattern_from(&self, start: usize) -> Vec<char> {
        self.slots[start..].iter().map(Slot::letter).collect()
    }

    /// Matches as many positionals as possible against the arguments from
    /// `start` (`_match_arguments_partial`), and takes them.
    pub(super) fn consume_positionals(&mut self, mut start: usize) -> Result<usize, Stop> {
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

    pub(super) fn take_positional(&mut self, arg: &Arg, strings: &[String]) -> Result<(), Stop> {
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

    pub(super) fn take_subcommand(
        &mut self,
        sub: &Subcommands,
        strings: &[String],
    ) -> Result<(), Stop> {
        let name = &strings[0];
        let Some(cmd) = sub.commands.iter().find(|c| c.name == name.as_str()) else {
            let names: Vec<String> = sub
                .shown_commands()
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
            CommandArgs::Parsed { prog, build } => {
                let parser = build(Parser::new(prog));
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
    pub(super) fn consume_option(&mut self, start: usize) -> Result<usize, Stop> {
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
    pub(super) fn consume_values(&mut self, arg: &Arg, start: usize) -> Result<usize, Stop> {
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

    pub(super) fn take_option(&mut self, arg: &Arg, value: Option<&str>) -> Result<(), Stop> {
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

    pub(super) fn check_required(&self) -> Result<(), Stop> {
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
pub(super) fn match_all(positionals: &[Positional], pattern: &[char]) -> Option<Vec<usize>> {
    let Some((first, rest)) = positionals.split_first() else {
        return Some(Vec::new());
    };
    first.lengths(pattern).into_iter().find_map(|n| {
        let mut tail = match_all(rest, &pattern[n..])?;
        tail.insert(0, n);
        Some(tail)
    })
}

pub(super) fn check_value(arg: &Arg, value: &str) -> Result<(), Stop> {
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
pub(super) fn is_negative_number(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('-') else {
        return false;
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    match rest.split_once('.') {
        None => digits(rest),
        Some((int, frac)) => (int.is_empty() || digits(int)) && digits(frac),
    }
}
