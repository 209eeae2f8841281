//! Fuzz entry points of the account layer (SPEC.md §16): the device-list, link-code and
//! link-message decoders, and their seeds (with the account layer's pickles for `unpickle`).

use std::sync::OnceLock;

use super::fixture::{NOW, rng};
use super::{Seed, input_or_mutation};
use crate::Account;
use crate::devices::{AccountSigningKey, DeviceEntry, DeviceList, DeviceListError, LinkCode, LinkRequest};
use crate::keys::IdentityKey;

/// Genuine account-layer encodings, built once from a seeded RNG.
struct DevicesFixture {
    /// The new device's identity (the link request is remade from `rng(LINK_SEED)` per input).
    laptop: IdentityKey,
    /// Signed lists: one device, two devices (one with a mailbox), six devices.
    lists: Vec<Vec<u8>>,
    /// The list the link messages carry.
    linked_list: Vec<u8>,
    /// Link messages answering the request's code: without and with the account seed.
    messages: Vec<Vec<u8>>,
}

/// The RNG seed of the link request every `open_link_message` input is opened by.
const LINK_SEED: u64 = 21;

fn link_request(laptop: IdentityKey) -> LinkRequest {
    LinkRequest::new(laptop, NOW, &mut rng(LINK_SEED))
}

// Each step runs on valid inputs, so each `expect` states a fact about the library.
#[allow(clippy::expect_used)]
fn fixture() -> &'static DevicesFixture {
    static FIXTURE: OnceLock<DevicesFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = rng(20);
        let account = AccountSigningKey::generate(&mut rng);
        let devices: [IdentityKey; 6] = core::array::from_fn(|_| Account::new(NOW, &mut rng).identity_key());
        let [phone, laptop, ..] = devices;
        let first = account.first_device_list(DeviceEntry::new(phone, NOW));
        let mut entry = DeviceEntry::new(laptop, NOW + 30);
        entry.mailbox = Some([0x4d; 32]);
        let second = account
            .add_device(&first, entry)
            .expect("two distinct devices fit a list");
        let full = account
            .sign_device_list(7, devices.iter().map(|key| DeviceEntry::new(*key, NOW)).collect())
            .expect("six distinct devices fit a list");
        let code = link_request(laptop).code();
        let messages = [None, Some(&account)]
            .into_iter()
            .map(|seed| {
                code.seal(&phone, &second, seed, b"contacts", b"history", NOW, &mut rng)
                    .expect("a fresh code and a list naming both devices seal")
            })
            .collect();
        DevicesFixture {
            laptop,
            lists: vec![first.to_bytes(), second.to_bytes(), full.to_bytes()],
            linked_list: second.to_bytes(),
            messages,
        }
    })
}

/// Decodes a [`DeviceList`] (or a mutation of a genuine one); if it decodes, it re-encodes to
/// the input and is no update of itself.
pub fn decode_device_list(data: &[u8]) {
    let input = input_or_mutation(data, &fixture().lists);
    if let Ok(list) = DeviceList::from_bytes(&input) {
        assert_eq!(list.to_bytes(), input, "DeviceList encoding is not canonical");
        assert!(
            matches!(
                DeviceList::verify_update(&input, &list),
                Err(DeviceListError::CounterNotGrowing { .. })
            ),
            "a list was accepted as an update of itself"
        );
    }
}

/// Decodes a [`LinkCode`] from bytes and, if the input is text, from text; whatever decodes
/// re-encodes to the same code.
pub fn decode_link_code(data: &[u8]) {
    if let Ok(code) = LinkCode::from_bytes(data) {
        assert_eq!(code.to_bytes(), data, "LinkCode encoding is not canonical");
        assert_eq!(LinkCode::from_text(&code.to_text()).ok(), Some(code));
    }
    if let Ok(text) = core::str::from_utf8(data)
        && let Ok(code) = LinkCode::from_text(text)
    {
        assert_eq!(LinkCode::from_bytes(&code.to_bytes()).ok(), Some(code));
    }
}

/// Opens the input (or a mutation of a genuine link message) with the fixture's link request:
/// only a genuine message opens, with the genuine list; a refusal leaves the request unspent
/// (a genuine message still opens); an accepted message is refused the second time.
pub fn open_link_message(data: &[u8]) {
    let fixture = fixture();
    let input = input_or_mutation(data, &fixture.messages);
    let mut request = link_request(fixture.laptop);
    match request.open(&input, NOW + 1) {
        Ok(linked) => {
            assert!(
                fixture.messages.contains(&input),
                "a link message the sealer never made opened"
            );
            assert_eq!(linked.device_list.to_bytes(), fixture.linked_list);
            assert!(
                request.open(&input, NOW + 1).is_err(),
                "a link message opened twice"
            );
        }
        Err(_) => {
            let genuine = fixture.messages.first().map(Vec::as_slice).unwrap_or_default();
            assert!(
                request.open(genuine, NOW + 1).is_ok(),
                "a refused link message spent the request"
            );
        }
    }
}

/// The seeds of the three targets: genuine encodings and short mutation seeds.
pub(super) fn seeds() -> Vec<Seed> {
    let fixture = fixture();
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: String, bytes: Vec<u8>| {
        seeds.push(Seed { target, name, bytes });
    };
    for (index, list) in fixture.lists.iter().enumerate() {
        add("decode_device_list", format!("list_{index}"), list.clone());
        let which = u8::try_from(index).unwrap_or(0);
        add(
            "decode_device_list",
            format!("flip_{index}_sig"),
            vec![200, 0x01, which],
        );
    }
    let code = link_request(fixture.laptop).code();
    add("decode_link_code", "code".into(), code.to_bytes());
    add(
        "decode_link_code",
        "code_text".into(),
        code.to_text().into_bytes(),
    );
    for (index, message) in fixture.messages.iter().enumerate() {
        add("open_link_message", format!("message_{index}"), message.clone());
        let which = u8::try_from(index).unwrap_or(0);
        for position in [3u8, 40, 70, 120] {
            add(
                "open_link_message",
                format!("flip_{index}_{position}"),
                vec![position, 0x01, which],
            );
        }
    }
    // The account layer's pickles (kinds 9 and 10), for the `unpickle` target: encrypted under
    // the fuzz pickle key (nonces from a seeded RNG) and in plaintext.
    let key = crate::pickle::PickleKey::new(super::PICKLE_KEY);
    let mut pickle_rng = rng(22);
    let account_key = AccountSigningKey::generate(&mut pickle_rng).pickle();
    let request = link_request(fixture.laptop).pickle();
    let pickles = [
        (
            "account_key",
            account_key.encrypt(&key, &mut pickle_rng),
            account_key.to_plaintext_bytes(),
        ),
        (
            "link_request",
            request.encrypt(&key, &mut pickle_rng),
            request.to_plaintext_bytes(),
        ),
    ];
    for (name, encrypted, plain) in pickles {
        add("unpickle", name.to_string(), encrypted);
        add("unpickle", format!("{name}_plain"), plain);
    }
    seeds
}
