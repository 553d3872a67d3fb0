//! The CLIP byte-level BPE tokenizer, as open_clip's `SimpleTokenizer` (`clean="lower"`):
//! text cleaning (the parts of ftfy's `fix_text` that change tokens, HTML unescaped twice,
//! whitespace collapsed), lower case, the regex split, byte-to-unicode mapping, BPE with the
//! 48,894 merges of `bpe_simple_vocab_16e6.txt.gz` (embedded; MIT, from the open-clip-torch
//! wheel), a 49,408-token vocabulary, SOT 49406 / EOT 49407, context 77 with truncation that
//! keeps EOT.
//!
//! Of ftfy's fixes, mojibake repair (`fix_encoding`: text that was decoded in the wrong encoding,
//! like `Ã©` for `é`) is not reproduced: such text is tokenized as it stands. Everything else
//! ftfy does by default is: HTML unescaping when the line has no `<`, C1 controls read as
//! Windows-1252, Latin ligatures, fullwidth/halfwidth forms, curly quotes, line breaks, ANSI
//! escapes, invisible control characters, NFC.

use crate::html_entities::{ENTITIES, FTFY_UPPER};
use regex::Regex;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use unicode_normalization::UnicodeNormalization;

/// Start-of-text token id.
pub const SOT: u32 = 49406;
/// End-of-text token id.
pub const EOT: u32 = 49407;
/// Context length of every CLIP model.
pub const CONTEXT_LENGTH: usize = 77;

const MERGES_GZ: &[u8] = include_bytes!("../assets/bpe_simple_vocab_16e6.txt.gz");
const SPECIAL: [&str; 2] = ["<start_of_text>", "<end_of_text>"];

/// The tokenizer (build once; encoding is thread-safe).
pub struct Tokenizer {
    byte_encoder: [char; 256],
    encoder: HashMap<String, u32>,
    decoder: Vec<String>,
    ranks: HashMap<(String, String), usize>,
    pattern: Regex,
    cache: Mutex<HashMap<String, Vec<u32>>>,
}

/// GPT-2's reversible map from bytes to printable characters.
fn bytes_to_unicode() -> [char; 256] {
    let mut printable: Vec<u32> = (u32::from('!')..=u32::from('~')).collect();
    printable.extend(0xA1..=0xAC);
    printable.extend(0xAE..=0xFF);
    let mut map = ['\0'; 256];
    let mut extra = 0;
    for b in 0..256u32 {
        let c = if printable.contains(&b) {
            b
        } else {
            extra += 1;
            255 + extra
        };
        map[b as usize] = char::from_u32(c).expect("valid code point");
    }
    map
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.decoder.len())
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// Builds the tokenizer from the embedded merges.
    pub fn new() -> Self {
        let mut text = String::new();
        flate2::read::GzDecoder::new(MERGES_GZ)
            .read_to_string(&mut text)
            .expect("the embedded merges file is valid gzip UTF-8");
        let merges: Vec<(String, String)> = text
            .split('\n')
            .skip(1)
            .take(49152 - 256 - 2)
            .map(|l| {
                let mut it = l.split(' ');
                let a = it.next().unwrap_or_default().to_string();
                let b = it.next().unwrap_or_default().to_string();
                (a, b)
            })
            .collect();
        let byte_encoder = bytes_to_unicode();
        // bytes_to_unicode's values in the order of its dict: the printable bytes first.
        let mut order: Vec<u32> = (u32::from('!')..=u32::from('~')).collect();
        order.extend(0xA1..=0xAC);
        order.extend(0xAE..=0xFF);
        order.extend((0..256).filter(|b| !order.contains(b)).collect::<Vec<_>>());
        let mut vocab: Vec<String> = order
            .iter()
            .map(|&b| byte_encoder[b as usize].to_string())
            .collect();
        vocab.extend(
            order
                .iter()
                .map(|&b| format!("{}</w>", byte_encoder[b as usize]))
                .collect::<Vec<_>>(),
        );
        vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
        vocab.extend(SPECIAL.iter().map(|s| s.to_string()));
        let encoder = vocab
            .iter()
            .enumerate()
            .map(|(i, v)| (v.clone(), i as u32))
            .collect();
        let ranks = merges.into_iter().enumerate().map(|(i, m)| (m, i)).collect();
        let pattern = Regex::new(&format!(
            r"(?i){}|'s|'t|'re|'ve|'m|'ll|'d|[\p{{L}}]+|[\p{{N}}]|[^\s\p{{L}}\p{{N}}]+",
            SPECIAL.join("|")
        ))
        .expect("valid pattern");
        Self {
            byte_encoder,
            encoder,
            decoder: vocab,
            ranks,
            pattern,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Size of the vocabulary (49,408).
    pub fn vocab_size(&self) -> usize {
        self.decoder.len()
    }

    fn bpe(&self, token: &str) -> Vec<u32> {
        if let Some(ids) = self.cache.lock().expect("cache lock").get(token) {
            return ids.clone();
        }
        let chars: Vec<char> = token.chars().collect();
        let mut word: Vec<String> = chars.iter().map(|c| c.to_string()).collect();
        if let Some(last) = word.last_mut() {
            last.push_str("</w>");
        }
        while word.len() > 1 {
            let best = word
                .windows(2)
                .filter_map(|w| {
                    self.ranks
                        .get(&(w[0].clone(), w[1].clone()))
                        .map(|&r| (r, w[0].clone(), w[1].clone()))
                })
                .min_by_key(|(r, _, _)| *r);
            let Some((_, first, second)) = best else { break };
            let mut merged = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if i + 1 < word.len() && word[i] == first && word[i + 1] == second {
                    merged.push(format!("{first}{second}"));
                    i += 2;
                } else {
                    merged.push(word[i].clone());
                    i += 1;
                }
            }
            word = merged;
        }
        let ids: Vec<u32> = word.iter().map(|w| self.encoder[w.as_str()]).collect();
        self.cache
            .lock()
            .expect("cache lock")
            .insert(token.to_string(), ids.clone());
        ids
    }

    /// Token ids of `text` without SOT/EOT and without truncation.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let cleaned = clean_lower(text);
        let mut out = Vec::new();
        for m in self.pattern.find_iter(&cleaned) {
            let piece = m.as_str();
            if let Some(&id) = SPECIAL.contains(&piece).then(|| &self.encoder[piece]) {
                out.push(id);
                continue;
            }
            let mapped: String = piece.bytes().map(|b| self.byte_encoder[b as usize]).collect();
            out.extend(self.bpe(&mapped));
        }
        out
    }

    /// SOT, the ids of `text`, EOT, truncated to `context` tokens (the last one then EOT) and
    /// padded with zeros to `context`: one row of open_clip's `tokenize`.
    pub fn tokenize(&self, text: &str, context: usize) -> Vec<u32> {
        let mut ids = Vec::with_capacity(context);
        ids.push(SOT);
        ids.extend(self.encode(text));
        ids.push(EOT);
        if ids.len() > context {
            ids.truncate(context);
            if let Some(last) = ids.last_mut() {
                *last = EOT;
            }
        }
        ids.resize(context, 0);
        ids
    }

    /// The text of `ids` (byte-level decoding, `</w>` as a space; SOT/EOT and padding dropped).
    pub fn decode(&self, ids: &[u32]) -> String {
        let byte_of: HashMap<char, u8> = self
            .byte_encoder
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, b as u8))
            .collect();
        let text: String = ids
            .iter()
            .filter(|&&i| i != 0 && i != SOT && i != EOT)
            .filter_map(|&i| self.decoder.get(i as usize))
            .map(String::as_str)
            .collect();
        let bytes: Vec<u8> = text.chars().filter_map(|c| byte_of.get(&c).copied()).collect();
        let mut s = String::from_utf8_lossy(&bytes).into_owned();
        // Markers `</w>` were mapped through the byte table as plain characters; restore spaces.
        s = s.replace("</w>", " ");
        s
    }
}

/// open_clip's `_clean_lower`: ftfy-style fixes, HTML unescaped twice, strip, whitespace runs to
/// one space, lower case.
pub fn clean_lower(text: &str) -> String {
    let fixed = fix_text(text);
    let unescaped = html_unescape(&html_unescape(&fixed));
    let words: Vec<&str> = unescaped
        .split(is_python_space)
        .filter(|w| !w.is_empty())
        .collect();
    words.join(" ").to_lowercase()
}

/// Python's `str.isspace`: Unicode White_Space plus the information separators U+1C..U+1F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Windows-1252 for 0x80..=0x9F (undefined bytes keep their C1 code point), as HTML5 and
/// ftfy's "sloppy" codec read them.
const CP1252_C1: [char; 32] = [
    '\u{20ac}', '\u{81}', '\u{201a}', '\u{192}', '\u{201e}', '\u{2026}', '\u{2020}', '\u{2021}', '\u{2c6}',
    '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8d}', '\u{17d}', '\u{8f}', '\u{90}', '\u{2018}',
    '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{2dc}', '\u{2122}', '\u{161}',
    '\u{203a}', '\u{153}', '\u{9d}', '\u{17e}', '\u{178}',
];

/// ftfy's `fix_text` with its defaults, except mojibake repair: line by line, each line fixed
/// until nothing changes.
pub fn fix_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut unescape = true;
    for segment in text.split_inclusive('\n') {
        // ftfy turns HTML unescaping off for good once a line contains `<`.
        if segment.contains('<') {
            unescape = false;
        }
        let mut s = segment.to_string();
        loop {
            let before = s.clone();
            if unescape {
                s = ftfy_unescape(&s);
            }
            s = fix_once(&s);
            s = s.nfc().collect();
            if s == before {
                break;
            }
        }
        out.push_str(&s);
    }
    out
}

fn fix_once(text: &str) -> String {
    // C1 controls, ligatures, widths, quotes, one char at a time (each maps chars to strings).
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        let u = u32::from(c);
        match c {
            '\u{80}'..='\u{9f}' => s.push(CP1252_C1[(u - 0x80) as usize]),
            _ => s.push(c),
        }
    }
    let mut t = String::with_capacity(s.len());
    for c in s.chars() {
        match ligature(c) {
            Some(rep) => t.push_str(rep),
            None => t.push(c),
        }
    }
    let mut w = String::with_capacity(t.len());
    for c in t.chars() {
        let u = u32::from(c);
        if c == '\u{3000}' {
            w.push(' ');
        } else if (0xFF01..0xFFF0).contains(&u) {
            let alt: String = std::iter::once(c).nfkc().collect();
            w.push_str(&alt);
        } else {
            w.push(c);
        }
    }
    let quotes: String = w
        .chars()
        .map(|c| match c {
            '\u{2bc}' | '\u{2018}'..='\u{201b}' => '\'',
            '\u{201c}'..='\u{201f}' => '"',
            c => c,
        })
        .collect();
    let breaks = fix_line_breaks(&quotes);
    let no_ansi = remove_terminal_escapes(&breaks);
    no_ansi.chars().filter(|&c| !is_removed_control(c)).collect()
}

fn ligature(c: char) -> Option<&'static str> {
    Some(match c {
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'ŉ' => "ʼn",
        'Ǳ' => "DZ",
        'ǲ' => "Dz",
        'ǳ' => "dz",
        'Ǆ' => "DŽ",
        'ǅ' => "Dž",
        'ǆ' => "dž",
        'Ǉ' => "LJ",
        'ǈ' => "Lj",
        'ǉ' => "lj",
        'Ǌ' => "NJ",
        'ǋ' => "Nj",
        'ǌ' => "nj",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' => "ſt",
        'ﬆ' => "st",
        _ => return None,
    })
}

/// ftfy's `fix_line_breaks`: CRLF, CR, LINE SEPARATOR, PARAGRAPH SEPARATOR, NEL to `\n`.
fn fix_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\r' | '\u{2028}' | '\u{2029}' | '\u{85}' => '\n',
            c => c,
        })
        .collect()
}

/// ftfy's `remove_terminal_escapes`: `ESC [ digits-and-semicolons letter`.
fn remove_terminal_escapes(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\u{1b}' && chars.get(i + 1) == Some(&'[') {
            let mut j = i + 2;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == ';') {
                j += 1;
            }
            if j < chars.len() && chars[j].is_ascii_alphabetic() {
                i = j + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// ftfy's `remove_control_chars` set.
fn is_removed_control(c: char) -> bool {
    matches!(u32::from(c), 0x00..=0x08 | 0x0B | 0x0E..=0x1F | 0x7F | 0x206A..=0x206F | 0xFEFF | 0xFFF9..=0xFFFC)
}

/// ftfy's `unescape_html`: only `&name;` / `&#n;` / `&#xh;` forms with the semicolon (1-24
/// alphanumerics), named ones from HTML5 plus ftfy's all-caps variants; anything else is kept.
fn ftfy_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '&' {
            let hash = usize::from(chars.get(i + 1) == Some(&'#'));
            let start = i + 1 + hash;
            let n = chars[start..]
                .iter()
                .take(24)
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            if n > 0 && chars.get(start + n) == Some(&';') {
                let body: String = chars[i + 1..start + n + 1].iter().collect(); // without '&'
                let whole = format!("&{body}");
                let rep = if hash == 0 {
                    entity(&body).or_else(|| upper_entity(&body)).map(str::to_string)
                } else {
                    let u = html_unescape(&whole);
                    (!u.contains(';')).then_some(u)
                };
                out.push_str(rep.as_deref().unwrap_or(&whole));
                i = start + n + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn upper_entity(name: &str) -> Option<&'static str> {
    FTFY_UPPER
        .binary_search_by(|(k, _)| (*k).cmp(name))
        .ok()
        .map(|i| FTFY_UPPER[i].1)
}

/// Python's `html.unescape`: numeric references (with HTML5's replacements) and the longest
/// matching HTML5 named reference.
pub fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '&' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        match charref(&chars[i + 1..]) {
            Some((len, rep)) => {
                out.push_str(&rep);
                i += 1 + len;
            }
            None => {
                out.push('&');
                i += 1;
            }
        }
    }
    out
}

/// The reference after `&`: (characters consumed, replacement), or None when nothing matches
/// the pattern `#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?`.
fn charref(rest: &[char]) -> Option<(usize, String)> {
    if rest.first() == Some(&'#') {
        let hex = matches!(rest.get(1), Some('x' | 'X'));
        let start = if hex { 2 } else { 1 };
        let digits = rest[start..]
            .iter()
            .take_while(|c| {
                if hex {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                }
            })
            .count();
        if digits == 0 {
            return None;
        }
        let text: String = rest[start..start + digits].iter().collect();
        let num = u64::from_str_radix(&text, if hex { 16 } else { 10 }).unwrap_or(u64::MAX);
        let mut len = start + digits;
        if rest.get(len) == Some(&';') {
            len += 1;
        }
        return Some((len, numeric_charref(num)));
    }
    let n = rest
        .iter()
        .take(32)
        .take_while(|c| !matches!(c, '\t' | '\n' | '\u{c}' | ' ' | '<' | '&' | '#' | ';'))
        .count();
    if n == 0 {
        return None;
    }
    let mut len = n;
    if rest.get(n) == Some(&';') {
        len += 1;
    }
    let name: String = rest[..len].iter().collect();
    if let Some(rep) = entity(&name) {
        return Some((len, rep.to_string()));
    }
    // The longest prefix that is a (legacy, semicolon-less) entity, the rest kept.
    let prefix: Vec<char> = rest[..len].to_vec();
    for x in (2..len).rev() {
        let p: String = prefix[..x].iter().collect();
        if let Some(rep) = entity(&p) {
            let tail: String = prefix[x..].iter().collect();
            return Some((len, format!("{rep}{tail}")));
        }
    }
    Some((len, format!("&{name}")))
}

fn entity(name: &str) -> Option<&'static str> {
    ENTITIES
        .binary_search_by(|(k, _)| (*k).cmp(name))
        .ok()
        .map(|i| ENTITIES[i].1)
}

fn numeric_charref(num: u64) -> String {
    if num == 0x00 {
        return "\u{fffd}".into();
    }
    if num == 0x0d {
        return "\r".into();
    }
    if (0x80..=0x9f).contains(&num) {
        return CP1252_C1[(num - 0x80) as usize].to_string();
    }
    if (0xD800..=0xDFFF).contains(&num) || num > 0x10FFFF {
        return "\u{fffd}".into();
    }
    let invalid = matches!(num, 0x1..=0x8 | 0xb | 0xe..=0x1f | 0x7f..=0x9f | 0xfdd0..=0xfdef)
        || (num & 0xFFFE) == 0xFFFE;
    if invalid {
        return String::new();
    }
    char::from_u32(num as u32).map(String::from).unwrap_or_default()
}
