//! `ratchet.json`: a 58-message Double Ratchet transcript with out-of-order and late delivery,
//! twelve DH ratchet steps and a message from a receiving chain that is no longer kept.

use serde_json::{Value, json};

use crate::conversation::{Conversation, Party};
use crate::rng::Recorder;

pub const DESCRIPTION: &str = "Double Ratchet transcript. `events` is the exact order of operations; \
    each lists the random bytes it drew and the party's ratchet state after it. Encrypt events \
    draw 16 bytes `random` and produce `messages[i].bytes`, whose salt is HMAC(message_key, \
    \"Hush_v1_Salt\" || random || plaintext)[0..16]; decrypt events deliver them (out of order, some late). The last \
    late message (index 2) comes from a receiving chain dropped under MAX_RECEIVING_CHAINS = 5: \
    its ratchet key is unknown again, so it takes the DH-step path and fails as Unauthenticated \
    without drawing randomness or changing state.";

enum Step {
    Send(Party, usize),
    Deliver(&'static [usize]),
}

use Party::{Alice, Bob};
use Step::{Deliver, Send};

/// Message indices are global, in sending order.
const SCRIPT: &[Step] = &[
    Send(Alice, 5),      // 0..=4, pre-key messages (Alice has no reply yet)
    Deliver(&[1, 0, 3]), // Bob's session starts from message 1; 2 and 4 held back
    Send(Bob, 4),        // 5..=8
    Deliver(&[6, 5, 8, 7]),
    Send(Alice, 6),                   // 9..=14
    Deliver(&[9, 4, 11, 10, 14, 12]), // 4 comes from the closed chain; 13 held back
    Send(Bob, 5),                     // 15..=19
    Deliver(&[17, 15, 19, 16, 18]),
    Send(Alice, 4),             // 20..=23
    Deliver(&[13, 21, 20, 23]), // 22 held back
    Send(Bob, 6),               // 24..=29
    Deliver(&[24, 25, 27, 26, 29, 28]),
    Send(Alice, 5), // 30..=34
    Deliver(&[30, 22, 32, 31, 34, 33]),
    Send(Bob, 5), // 35..=39
    Deliver(&[39, 38, 37, 36, 35]),
    Send(Alice, 6), // 40..=45
    Deliver(&[41, 40, 42, 43, 45, 44]),
    Send(Bob, 4), // 46..=49
    Deliver(&[46, 48, 47, 49]),
    Send(Alice, 4), // 50..=53: Bob's sixth receiving chain drops the first
    Deliver(&[50, 2, 52, 51, 53]),
    Send(Bob, 2), // 54, 55
    Deliver(&[55]),
    Send(Bob, 2), // 56, 57: same chain, no reply in between
    Deliver(&[57, 54, 56]),
];

/// Indices whose delivery must fail, with the error.
const EXPECTED_FAILURES: &[(usize, &str)] = &[(2, "Unauthenticated")];

fn plaintext(index: usize, sender: Party) -> Vec<u8> {
    match index {
        7 => Vec::new(),
        20 => "é ✓ unicode, and a longer line to cross one AES block boundary or three."
            .repeat(3)
            .into_bytes(),
        _ => format!("{} #{index}: {}", sender.name(), "x".repeat(index * 7 % 40)).into_bytes(),
    }
}

pub fn generate(rng: &mut Recorder) -> Value {
    let (mut conversation, setup) = Conversation::start(rng);
    let mut delivery_order = Vec::new();
    for step in SCRIPT {
        match step {
            Send(sender, count) => {
                for _ in 0..*count {
                    let index = conversation.messages.len();
                    conversation.send(rng, *sender, &plaintext(index, *sender));
                }
            }
            Deliver(indices) => {
                for &index in *indices {
                    delivery_order.push(index);
                    let result = conversation.deliver(rng, index);
                    let expected = EXPECTED_FAILURES
                        .iter()
                        .find(|(i, _)| *i == index)
                        .map(|(_, e)| *e);
                    match (&result, expected) {
                        (Ok(plaintext), None) => {
                            let sender = conversation.messages[index].sender;
                            assert_eq!(*plaintext, self::plaintext(index, sender));
                        }
                        (Err(e), Some(expected)) => assert_eq!(e, expected),
                        _ => panic!("message {index}: unexpected {result:?}"),
                    }
                }
            }
        }
    }
    let dh_steps = conversation
        .events
        .iter()
        .filter(|e| e["op"] == "decrypt" && e["random"].as_str().is_some_and(|r| !r.is_empty()))
        .count();
    json!({
        "setup": setup,
        "messages": conversation.message_json,
        "delivery_order": delivery_order,
        "dh_steps": dh_steps,
        "events": conversation.events,
    })
}
