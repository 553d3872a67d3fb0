//! The tokenizer against open_clip's SimpleTokenizer on the committed fixture
//! (weights/reference/clip_tokenizer_fixture.py): every string's ids, and the truncated rows.

use zoo_clip::{CONTEXT_LENGTH, EOT, SOT, Tokenizer};

#[test]
fn token_ids_equal_open_clip() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../weights/fixtures/clip_tokenizer.json"
    );
    let fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let tok = Tokenizer::new();
    assert_eq!(tok.vocab_size(), 49_408);
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() > 600);
    let mut failures = Vec::new();
    let mut truncated = 0;
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let mut got = vec![SOT];
        got.extend(tok.encode(text));
        got.push(EOT);
        if got != want {
            failures.push(format!("{text:?}\n  ours   {got:?}\n  theirs {want:?}"));
            continue;
        }
        let row = tok.tokenize(text, CONTEXT_LENGTH);
        if let Some(r) = case.get("row77") {
            truncated += 1;
            let r: Vec<u32> = r
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(row, r, "{text:?}");
            assert_eq!(row[CONTEXT_LENGTH - 1], EOT);
        } else {
            assert_eq!(&row[..want.len()], &want[..]);
            assert!(row[want.len()..].iter().all(|&v| v == 0));
        }
    }
    assert!(truncated >= 2, "the fixture should hold truncated texts");
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn decode_inverts_encode_on_clean_text() {
    let tok = Tokenizer::new();
    let row = tok.tokenize("a photo of a cat", CONTEXT_LENGTH);
    assert_eq!(&row[..8], &[49406, 320, 1125, 539, 320, 2368, 49407, 0]); // the README's example
    let ids = tok.tokenize("a photo of a cat, 2 dogs!", CONTEXT_LENGTH);
    assert_eq!(tok.decode(&ids).trim(), "a photo of a cat , 2 dogs !");
}

#[test]
fn arbitrary_text_never_panics_and_keeps_the_frame() {
    // Mutation fuzzing: corrupted UTF-8 (read lossily, as a caller reading bytes would), mixed
    // scripts, entities and control characters; every result is SOT ... EOT, padded to 77.
    let seed = "Crème brûlée &amp; 寿司 🍣👩‍👩‍👧 naïve café — it's 1,234.5 &#128512; \u{7}\u{1b}[31m ＡＢＣ ﬁ";
    let tok = zoo_clip::Tokenizer::new();
    zoo_datasets::fuzz::mutations(seed.as_bytes(), 2000, 31, |b| {
        let text = String::from_utf8_lossy(b);
        let ids = tok.tokenize(&text, 77);
        assert_eq!(ids.len(), 77);
        assert_eq!(ids[0], zoo_clip::SOT);
        assert!(ids.contains(&zoo_clip::EOT), "{text:?}");
        assert!(ids.iter().all(|&i| (i as usize) < tok.vocab_size()));
    });
}
