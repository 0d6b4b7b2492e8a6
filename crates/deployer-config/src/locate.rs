//! Maps key paths to positions in the YAML text.
//!
//! serde gives us key paths but no positions for values it parsed successfully,
//! so when validation finds a problem we walk the document once more with an event
//! parser that reports spans. This only happens on the error path: a valid file is
//! parsed once.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, Span};

use crate::key_path::KeyPath;

/// Deeper documents are still parsed by serde (which has its own limit); we just
/// stop recording positions below this depth instead of risking the stack.
const MAX_DEPTH: usize = 128;

/// A byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSpan {
    pub offset: usize,
    pub length: usize,
    /// 1-based line and column (in characters) of `offset`.
    pub line: usize,
    pub column: usize,
}

impl From<ByteSpan> for crate::error::Origin {
    fn from(span: ByteSpan) -> Self {
        Self::File { line: span.line, column: span.column, offset: span.offset, length: span.length }
    }
}

#[derive(Debug, Clone, Copy)]
struct NodeSpans {
    key: Option<ByteSpan>,
    value: ByteSpan,
}

/// Which part of a `key: value` pair an error points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Key,
    Value,
}

/// Positions of every node of a document, by key path.
#[derive(Debug, Default)]
pub struct Locator {
    nodes: HashMap<KeyPath, NodeSpans>,
    duplicates: Vec<(KeyPath, ByteSpan)>,
}

impl Locator {
    /// Indexes `text`. A document the event parser cannot read yields a partial index.
    pub fn new(text: &str) -> Self {
        let lines = LineTable::new(text);
        let mut walker = Walker { parser: Parser::new_from_str(text), lines: &lines, locator: Locator::default() };
        walker.document();
        walker.locator
    }

    /// The span for `path`, or for its nearest ancestor that has one.
    pub fn locate(&self, path: &KeyPath, at: At) -> Option<ByteSpan> {
        let mut current = Some(path.clone());
        let mut exact = true;
        while let Some(candidate) = current {
            if let Some(spans) = self.nodes.get(&candidate) {
                // For an ancestor, point at its key: "the problem is inside this".
                let want_key = at == At::Key || !exact;
                return Some(if want_key { spans.key.unwrap_or(spans.value) } else { spans.value });
            }
            exact = false;
            current = candidate.parent();
        }
        None
    }

    /// Keys that appear twice in the same mapping, at their second occurrence.
    pub fn duplicates(&self) -> &[(KeyPath, ByteSpan)] {
        &self.duplicates
    }
}

struct Walker<'a, 'text> {
    parser: Parser<'text, saphyr_parser::StrInput<'text>>,
    lines: &'a LineTable<'text>,
    locator: Locator,
}

impl<'text> Walker<'_, 'text> {
    fn next(&mut self) -> Option<(Event<'text>, Span)> {
        self.parser.next_event()?.ok()
    }

    fn peek_is_end(&mut self) -> Option<bool> {
        match self.parser.peek()? {
            Ok((Event::MappingEnd | Event::SequenceEnd, _)) => Some(true),
            Ok(_) => Some(false),
            Err(_) => None,
        }
    }

    fn document(&mut self) {
        loop {
            let Some((event, _)) = self.next() else { return };
            match event {
                Event::DocumentStart(_) => {
                    self.node(&KeyPath::root(), 0);
                    return;
                }
                Event::StreamEnd => return,
                _ => {}
            }
        }
    }

    /// Consumes one node and returns its span (for collections, the span of the
    /// opening event, which is where a reader looks).
    fn node(&mut self, path: &KeyPath, depth: usize) -> Option<ByteSpan> {
        let (event, span) = self.next()?;
        let record = depth < MAX_DEPTH;
        let span = self.lines.byte_span(span);
        match event {
            Event::SequenceStart(..) => {
                let mut index = 0;
                while !self.peek_is_end()? {
                    let child = path.index(index);
                    let child_span = self.node(&child, depth + 1)?;
                    if record {
                        self.locator.nodes.insert(child, NodeSpans { key: None, value: child_span });
                    }
                    index += 1;
                }
                self.next();
            }
            Event::MappingStart(..) => {
                while !self.peek_is_end()? {
                    let (key_event, key_span) = self.next()?;
                    let key_span = self.lines.byte_span(key_span);
                    let key = if let Event::Scalar(text, ..) = key_event {
                        text.into_owned()
                    } else {
                        // A complex key: skip its contents, it cannot be a config key.
                        self.skip_rest_of_collection(&key_event)?;
                        "?".to_owned()
                    };
                    let child = path.key(key);
                    let value_span = self.node(&child, depth + 1)?;
                    if record {
                        let spans = NodeSpans { key: Some(key_span), value: value_span };
                        if self.locator.nodes.insert(child.clone(), spans).is_some() {
                            self.locator.duplicates.push((child, key_span));
                        }
                    }
                }
                self.next();
            }
            _ => {}
        }
        if depth == 0 && record {
            self.locator.nodes.insert(path.clone(), NodeSpans { key: None, value: span });
        }
        Some(span)
    }

    fn skip_rest_of_collection(&mut self, opened: &Event<'_>) -> Option<()> {
        if !matches!(opened, Event::MappingStart(..) | Event::SequenceStart(..)) {
            return Some(());
        }
        let mut depth = 1usize;
        while depth > 0 {
            match self.next()?.0 {
                Event::MappingStart(..) | Event::SequenceStart(..) => depth += 1,
                Event::MappingEnd | Event::SequenceEnd => depth -= 1,
                _ => {}
            }
        }
        Some(())
    }
}

/// Converts the parser's (line, character column) markers to byte offsets.
struct LineTable<'text> {
    text_len: usize,
    starts: Vec<usize>,
    text: &'text str,
}

impl<'text> LineTable<'text> {
    fn new(text: &'text str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(index, _)| index + 1));
        Self { text_len: text.len(), starts, text }
    }

    fn byte_offset(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else { return self.text_len };
        let rest = &self.text[start..];
        rest.char_indices().nth(column).map_or(self.text_len, |(index, _)| start + index)
    }

    fn byte_span(&self, span: Span) -> ByteSpan {
        let offset = self.byte_offset(span.start.line(), span.start.col());
        let end = self.byte_offset(span.end.line(), span.end.col()).max(offset);
        // Point at the first line of a multi-line node only.
        let line_end = self.text[offset..].find('\n').map_or(self.text_len, |index| offset + index);
        let length = end.min(line_end) - offset;
        let (offset, length) = char_span(self.text, offset, length);
        ByteSpan { offset, length, line: span.start.line(), column: span.start.col() + 1 }
    }
}

/// Snaps a byte span to character boundaries, at least one character long when
/// there is one: renderers slice the text with it.
pub(crate) fn char_span(text: &str, offset: usize, length: usize) -> (usize, usize) {
    let mut start = offset.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + length).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    if end == start {
        end = text[start..].chars().next().map_or(start, |c| start + c.len_utf8());
    }
    (start, end - start)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "project: demo\nenvironments:\n  staging:\n    branch: main\n    roles:\n      web: [a, b]\n";

    #[test]
    fn locates_keys_and_values() {
        let locator = Locator::new(DOC);
        let branch = KeyPath::from_dotted("environments.staging.branch");
        let key = locator.locate(&branch, At::Key).unwrap();
        assert_eq!((key.line, key.column), (4, 5));
        assert_eq!(&DOC[key.offset..key.offset + key.length], "branch");
        let value = locator.locate(&branch, At::Value).unwrap();
        assert_eq!(&DOC[value.offset..value.offset + value.length], "main");
        let second_host = KeyPath::from_dotted("environments.staging.roles.web").index(1);
        let host = locator.locate(&second_host, At::Value).unwrap();
        assert_eq!(&DOC[host.offset..host.offset + host.length], "b");
    }

    #[test]
    fn falls_back_to_the_nearest_ancestor_key() {
        let locator = Locator::new(DOC);
        let missing = KeyPath::from_dotted("environments.staging.keep_releases");
        let span = locator.locate(&missing, At::Value).unwrap();
        assert_eq!(&DOC[span.offset..span.offset + span.length], "staging");
    }

    #[test]
    fn reports_duplicate_keys() {
        let locator = Locator::new("a: 1\nb:\n  c: 2\n  c: 3\n");
        let duplicates = locator.duplicates();
        assert_eq!(duplicates.len(), 1);
        assert_eq!(duplicates[0].0, KeyPath::from_dotted("b.c"));
        assert_eq!(duplicates[0].1.line, 4);
    }

    #[test]
    fn spans_snap_to_character_boundaries() {
        let text = "a: \u{fffd}b";
        assert_eq!(char_span(text, 3, 1), (3, 3));
        assert_eq!(char_span(text, 4, 1), (3, 3));
        assert_eq!(char_span(text, 99, 1), (text.len(), 0));
        assert_eq!(char_span(text, 0, 0), (0, 1));
    }

    #[test]
    fn counts_columns_in_characters_but_offsets_in_bytes() {
        let doc = "vars:\n  name: \"é\"\n  bad: 1\n";
        let locator = Locator::new(doc);
        let span = locator.locate(&KeyPath::from_dotted("vars.bad"), At::Key).unwrap();
        assert_eq!(&doc[span.offset..span.offset + span.length], "bad");
    }
}
