//! Wildcard patterns with `*` (any run of characters, none included) and `?` (exactly one),
//! as in grants' bucket globs (which IAM reads the same way) and OpenSSH's pattern lists:
//! matching a name, and deciding whether every name one pattern matches is matched by
//! some pattern of a set — the question "is this grant wider than that declaration".
//!
//! Both run the patterns as automata whose states are "how many tokens matched", so a
//! pattern of n tokens has n + 1 states and no input makes them backtrack.

use std::collections::{BTreeSet, HashSet, VecDeque};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Star,
    One,
    Byte(u8),
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern(Vec<Token>);

/// How many (pattern, set) state pairs the inclusion check explores before it gives up and
/// answers "not included": far beyond any real grant, and a bound on hostile ones.
const MAX_STATES: usize = 20_000;

impl Pattern {
    pub(crate) fn new(text: &str) -> Pattern {
        Pattern(
            text.bytes()
                .map(|b| match b {
                    b'*' => Token::Star,
                    b'?' => Token::One,
                    b => Token::Byte(b),
                })
                .collect(),
        )
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// Adds to `states` every state reachable without reading: past a `*`, which may match
    /// nothing.
    fn close(&self, states: &mut BTreeSet<usize>) {
        let mut pending: Vec<usize> = states.iter().copied().collect();
        while let Some(state) = pending.pop() {
            if self.0.get(state) == Some(&Token::Star) && states.insert(state + 1) {
                pending.push(state + 1);
            }
        }
    }

    fn start(&self) -> BTreeSet<usize> {
        let mut states = BTreeSet::from([0]);
        self.close(&mut states);
        states
    }

    fn step(&self, states: &BTreeSet<usize>, byte: u8) -> BTreeSet<usize> {
        let mut next = BTreeSet::new();
        for &state in states {
            match self.0.get(state) {
                Some(Token::Star) => {
                    next.insert(state);
                }
                Some(Token::One) => {
                    next.insert(state + 1);
                }
                Some(Token::Byte(b)) if *b == byte => {
                    next.insert(state + 1);
                }
                _ => {}
            }
        }
        self.close(&mut next);
        next
    }

    fn accepts(&self, states: &BTreeSet<usize>) -> bool {
        states.contains(&self.len())
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        let mut states = self.start();
        for byte in text.bytes() {
            states = self.step(&states, byte);
            if states.is_empty() {
                return false;
            }
        }
        self.accepts(&states)
    }

    /// Whether every string this pattern matches is matched by one of `others`: a walk of
    /// the product of this pattern's automaton with the subset automaton of the others,
    /// looking for a string this one accepts and none of them does. Bytes that no pattern
    /// names behave alike, so one of them stands for all.
    pub(crate) fn included_in(&self, others: &[Pattern]) -> bool {
        let mut alphabet: BTreeSet<u8> = BTreeSet::new();
        for pattern in std::iter::once(self).chain(others) {
            for token in &pattern.0 {
                if let Token::Byte(b) = token {
                    alphabet.insert(*b);
                }
            }
        }
        if let Some(other) = (0..=u8::MAX).find(|b| !alphabet.contains(b)) {
            alphabet.insert(other);
        }
        type State = (BTreeSet<usize>, Vec<BTreeSet<usize>>);
        let start: State = (self.start(), others.iter().map(Pattern::start).collect());
        let mut seen: HashSet<State> = HashSet::from([start.clone()]);
        let mut queue: VecDeque<State> = VecDeque::from([start]);
        while let Some((mine, theirs)) = queue.pop_front() {
            let covered = others
                .iter()
                .zip(&theirs)
                .any(|(pattern, states)| pattern.accepts(states));
            if self.accepts(&mine) && !covered {
                return false;
            }
            for &byte in &alphabet {
                let next_mine = self.step(&mine, byte);
                if next_mine.is_empty() {
                    continue;
                }
                let next_theirs = others
                    .iter()
                    .zip(&theirs)
                    .map(|(pattern, states)| pattern.step(states, byte))
                    .collect();
                let next = (next_mine, next_theirs);
                if !seen.contains(&next) {
                    if seen.len() >= MAX_STATES {
                        return false;
                    }
                    seen.insert(next.clone());
                    queue.push_back(next);
                }
            }
        }
        true
    }
}

/// OpenSSH's `match_pattern_list`: comma-separated patterns, each maybe negated with `!`.
/// `Some(true)` when a positive pattern matches and no negated one does, `Some(false)`
/// when a negated one matches, `None` when none matches.
pub(crate) fn match_pattern_list(text: &str, list: &str) -> Option<bool> {
    let mut positive = None;
    for pattern in list.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        if Pattern::new(pattern).matches(text) {
            if negated {
                return Some(false);
            }
            positive = Some(true);
        }
    }
    positive
}

#[cfg(test)]
mod tests {
    use super::*;

    fn included(pattern: &str, others: &[&str]) -> bool {
        let others: Vec<Pattern> = others.iter().map(|p| Pattern::new(p)).collect();
        Pattern::new(pattern).included_in(&others)
    }

    #[test]
    fn matching() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("reports-*", "reports-2024", true),
            ("reports-*", "report", false),
            ("*-logs-*", "prod-logs-eu", true),
            ("*-logs-*", "prod-logs", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "acb", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                Pattern::new(pattern).matches(text),
                expected,
                "{pattern} ~ {text}"
            );
        }
    }

    #[test]
    fn inclusion_is_exact_for_stars_and_question_marks() {
        assert!(included("reports-2024", &["reports-*"]));
        assert!(included("reports-*", &["*"]));
        assert!(included("reports-*", &["rep*"]));
        assert!(!included("rep*", &["reports-*"]));
        assert!(!included("*", &["a*", "b*"]));
        // Syntactically unalike, the same language: any name of one character or more.
        assert!(included("*?", &["?*"]));
        assert!(included("?*", &["*?"]));
        // A union covers what no single pattern does.
        assert!(included("?", &["a", "?"]));
        assert!(included("a*", &["ab*", "a", "a?*"]));
        assert!(!included("a*", &["ab*", "a"]));
        assert!(!included("x", &[]));
        assert!(included("a-b", &["a?b"]));
        assert!(!included("a?b", &["a-b"]));
    }

    #[test]
    fn pattern_lists_as_openssh_reads_them() {
        assert_eq!(
            match_pattern_list("xacct-plugin", "git,xacct-*"),
            Some(true)
        );
        assert_eq!(match_pattern_list("xacct-plugin", "git,file"), None);
        assert_eq!(
            match_pattern_list("xacct-plugin", "*,!xacct-plugin"),
            Some(false)
        );
        assert_eq!(match_pattern_list("xacct-plugin", "!git"), None);
    }
}
