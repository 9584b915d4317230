use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::{domain, host, names, rcpt};
use crate::address::Host;
use crate::delivery::{domains_to_resolve, MxAnswer, MxAnswers, MxRecord, Planner, RouteError};
use crate::reply::{Cause, Classification, Permanence};

fn records(list: &[(u16, &str)]) -> MxAnswer {
    MxAnswer::Records(
        list.iter()
            .map(|&(preference, name)| MxRecord::new(preference, domain(name)))
            .collect(),
    )
}

fn planner(seed: u64) -> Planner {
    Planner::new(vec![host("out.example.org"), host("[198.51.100.7]")], seed)
}

fn route(answer: &MxAnswer, seed: u64) -> Result<Vec<String>, RouteError> {
    planner(seed)
        .route(&host("example.net"), Some(answer))
        .map(|hops| names(&hops))
}

#[test]
fn lowest_preference_first() {
    let answer = records(&[
        (30, "c.example.net"),
        (10, "a.example.net"),
        (20, "b.example.net"),
    ]);
    assert_eq!(
        route(&answer, 7).unwrap(),
        ["a.example.net", "b.example.net", "c.example.net"]
    );
}

#[test]
fn equal_preferences_shuffled_by_seed() {
    let answer = records(&[
        (5, "first.example.net"),
        (10, "x.example.net"),
        (10, "y.example.net"),
        (10, "z.example.net"),
        (20, "last.example.net"),
    ]);
    let mut orders = BTreeSet::new();
    for seed in 0..200 {
        let order = route(&answer, seed).unwrap();
        // Same seed, same order.
        assert_eq!(route(&answer, seed).unwrap(), order);
        assert_eq!(order.first().map(String::as_str), Some("first.example.net"));
        assert_eq!(order.last().map(String::as_str), Some("last.example.net"));
        orders.insert(order);
    }
    // Every permutation of the three equals comes up.
    assert_eq!(orders.len(), 6);
}

#[test]
fn order_does_not_depend_on_the_dns_answer_order() {
    let forward = records(&[
        (10, "x.example.net"),
        (10, "Y.example.net"),
        (10, "z.example.net"),
    ]);
    let backward = records(&[
        (10, "z.example.net"),
        (10, "y.example.net"),
        (10, "X.example.net"),
    ]);
    for seed in 0..20 {
        let lower = |hops: Vec<String>| -> Vec<String> {
            hops.into_iter()
                .map(|name| name.to_ascii_lowercase())
                .collect()
        };
        assert_eq!(
            lower(route(&forward, seed).unwrap()),
            lower(route(&backward, seed).unwrap())
        );
    }
}

#[test]
fn a_name_listed_twice_is_tried_once_at_its_best_preference() {
    let answer = records(&[
        (20, "mx.example.net"),
        (10, "MX.example.net"),
        (15, "b.example.net"),
    ]);
    assert_eq!(
        route(&answer, 0).unwrap(),
        ["MX.example.net", "b.example.net"]
    );
}

#[test]
fn own_name_drops_it_and_everything_at_or_above_its_preference() {
    // RFC 5321 §5.1.
    let answer = records(&[
        (10, "mx1.example.net"),
        (20, "backup.example.net"),
        (20, "OUT.example.org"),
        (30, "mx3.example.net"),
    ]);
    assert_eq!(route(&answer, 3).unwrap(), ["mx1.example.net"]);
}

#[test]
fn own_utf8_name_is_found_whatever_its_case() {
    // RFC 5321 §2.4: a U-label in another case is still our name.
    let planner = Planner::new(vec![host("out.bücher.example")], 0);
    let answer = records(&[(10, "mx1.example.net"), (20, "OUT.BÜCHER.example")]);
    let hops = planner.route(&host("example.net"), Some(&answer)).unwrap();
    assert_eq!(names(&hops), ["mx1.example.net"]);
    let answer = records(&[(10, "Out.Bücher.Example")]);
    assert_eq!(
        planner.route(&host("example.net"), Some(&answer)),
        Err(RouteError::LoopsToSelf)
    );
    // The same exchanger in two cases is tried once.
    let answer = records(&[(20, "mx.bücher.example"), (10, "MX.BÜCHER.example")]);
    assert_eq!(route(&answer, 0).unwrap(), ["MX.BÜCHER.example"]);
}

#[test]
fn only_ourselves_left_is_a_loop() {
    let answer = records(&[(10, "out.example.org"), (20, "mx2.example.net")]);
    assert_eq!(route(&answer, 0), Err(RouteError::LoopsToSelf));
    // Listed twice: the better preference counts.
    let answer = records(&[
        (30, "out.example.org"),
        (20, "mx.example.net"),
        (5, "out.example.org"),
    ]);
    assert_eq!(route(&answer, 0), Err(RouteError::LoopsToSelf));
    assert_eq!(RouteError::LoopsToSelf.status().to_string(), "5.4.6");
    assert!(RouteError::LoopsToSelf.is_permanent());
}

#[test]
fn null_mx_fails_with_5_1_10() {
    // RFC 7505 §3, §4.2.
    let answer = MxAnswer::from_rdata([(0, ".")]).unwrap();
    assert_eq!(answer, MxAnswer::NullMx);
    assert_eq!(route(&answer, 0), Err(RouteError::NullMx));
    let status = RouteError::NullMx.status();
    assert_eq!(status.to_string(), "5.1.10");
    assert_eq!(
        Classification::of_status(status),
        Classification {
            permanence: Permanence::Permanent,
            cause: Cause::BadMailbox
        }
    );
}

#[test]
fn rdata_forms() {
    assert_eq!(MxAnswer::from_rdata([(0, "")]).unwrap(), MxAnswer::NullMx);
    // Not the null MX of RFC 7505: records, none usable.
    let lone_dot = MxAnswer::from_rdata([(10, ".")]).unwrap();
    assert_eq!(lone_dot, MxAnswer::Records(vec![]));
    assert_eq!(route(&lone_dot, 0), Err(RouteError::NoUsableMx));
    // A dot among real records is skipped.
    let mixed = MxAnswer::from_rdata([(0, "."), (10, "mx.example.net.")]).unwrap();
    assert_eq!(route(&mixed, 0).unwrap(), ["mx.example.net"]);
    assert!(MxAnswer::from_rdata([(10, "bad..name.")]).is_err());
}

#[test]
fn implicit_mx_is_the_domain_itself() {
    let hops = planner(0)
        .route(&host("example.net"), Some(&MxAnswer::NoRecords))
        .unwrap();
    assert_eq!(names(&hops), ["example.net"]);
    assert_eq!(hops[0].preference, 0);
    let ours = planner(0).route(&host("Out.Example.org"), Some(&MxAnswer::NoRecords));
    assert_eq!(ours, Err(RouteError::LoopsToSelf));
}

#[test]
fn lookup_failures() {
    assert_eq!(
        route(&MxAnswer::NoSuchDomain, 0),
        Err(RouteError::NoSuchDomain)
    );
    assert_eq!(RouteError::NoSuchDomain.status().to_string(), "5.1.2");
    assert_eq!(
        route(&MxAnswer::LookupFailed, 0),
        Err(RouteError::LookupFailed)
    );
    assert!(!RouteError::LookupFailed.is_permanent());
    assert_eq!(
        planner(0).route(&host("example.net"), None),
        Err(RouteError::Unresolved)
    );
}

#[test]
fn address_literals_go_straight_to_the_address() {
    let hops = planner(0).route(&host("[192.0.2.1]"), None).unwrap();
    assert_eq!(names(&hops), ["[192.0.2.1]"]);
    let ours = planner(0).route(&host("[198.51.100.7]"), None);
    assert_eq!(ours, Err(RouteError::LoopsToSelf));
}

fn answers() -> MxAnswers {
    let mut answers = MxAnswers::new();
    let shared = records(&[(10, "mx.example.com")]);
    answers.insert(domain("one.example"), shared.clone());
    answers.insert(domain("two.example"), shared);
    answers.insert(
        domain("other.example"),
        records(&[(10, "mx.other.example")]),
    );
    answers.insert(domain("null.example"), MxAnswer::NullMx);
    answers
}

#[test]
fn recipients_grouped_by_destination() {
    let recipients = vec![
        rcpt("a@one.example"),
        rcpt("b@other.example"),
        rcpt("c@ONE.example"),
        rcpt("d@two.example"),
        rcpt("e@[192.0.2.1]"),
        rcpt("f@null.example"),
        rcpt("g@unknown.example"),
        crate::address::ForwardPath::Postmaster,
        rcpt("h@[192.0.2.1]"),
    ];
    assert_eq!(
        domains_to_resolve(&recipients),
        [
            domain("one.example"),
            domain("other.example"),
            domain("two.example"),
            domain("null.example"),
            domain("unknown.example")
        ]
    );
    let plan = planner(1).plan(recipients.clone(), &answers());
    let groups: Vec<(Vec<String>, Vec<String>)> = plan
        .groups
        .iter()
        .map(|group| {
            (
                names(&group.hops),
                group.recipients.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            (
                vec!["mx.example.com".into()],
                vec!["<a@one.example>".into(), "<c@ONE.example>".into()]
            ),
            (
                vec!["mx.other.example".into()],
                vec!["<b@other.example>".into()]
            ),
            (
                vec!["mx.example.com".into()],
                vec!["<d@two.example>".into()]
            ),
            (
                vec!["[192.0.2.1]".into()],
                vec!["<e@[192.0.2.1]>".into(), "<h@[192.0.2.1]>".into()]
            ),
        ]
    );
    let errors: Vec<RouteError> = plan.unroutable.iter().map(|u| u.error).collect();
    assert_eq!(
        errors,
        [
            RouteError::NullMx,
            RouteError::Unresolved,
            RouteError::NoDomain
        ]
    );

    // Sharing: the two domains served by the same exchanger share a group.
    let plan = planner(1)
        .share_connections(true)
        .plan(recipients, &answers());
    assert_eq!(plan.groups.len(), 3);
    assert_eq!(plan.groups[0].recipients.len(), 3);
    assert_eq!(
        plan.groups[0].destinations,
        [host("one.example"), host("two.example")]
    );
}

#[test]
fn client_recipients_keep_their_parameters() {
    let mut envelope = crate::client::Envelope::new(crate::address::ReversePath::Null);
    envelope.add_recipient(rcpt("a@other.example"));
    let plan = planner(0).plan(envelope.recipients, &answers());
    assert_eq!(plan.groups[0].recipients[0].path, rcpt("a@other.example"));
}

#[test]
fn new_causes_classified() {
    let cause = |code: &str| Cause::of_status(code.parse().unwrap());
    assert_eq!(cause("5.7.10"), Cause::EncryptionRequired);
    assert_eq!(cause("4.7.11"), Cause::EncryptionRequired);
    assert_eq!(cause("5.7.30"), Cause::EncryptionRequired);
    assert_eq!(cause("4.7.0"), Cause::Policy);
    assert_eq!(cause("5.3.4"), Cause::MessageTooBig);
    assert_eq!(cause("5.4.6"), Cause::System);
    let no_enhanced = super::reply(538, None, "Encryption required");
    assert_eq!(
        crate::reply::classify(&no_enhanced).cause,
        Cause::EncryptionRequired
    );
}

const NAMES: [&str; 6] = [
    "a.example.net",
    "B.example.net",
    "b.example.net",
    "c.example.net",
    "out.example.org",
    "OUT.EXAMPLE.ORG",
];

proptest! {
    #[test]
    fn planner_output_is_the_survivors_sorted(
        list in proptest::collection::vec((0u16..4, 0usize..NAMES.len()), 0..10),
        seed in any::<u64>(),
    ) {
        let answer = records(&list.iter().map(|&(p, n)| (p, NAMES[n])).collect::<Vec<_>>());
        // The rule, spelled out naively: best preference per name, then
        // everything below our own best preference.
        let mut best: Vec<(u16, String)> = Vec::new();
        for &(preference, index) in &list {
            let name = NAMES[index].to_ascii_lowercase();
            match best.iter_mut().find(|(_, known)| *known == name) {
                Some(entry) => entry.0 = entry.0.min(preference),
                None => best.push((preference, name)),
            }
        }
        let own = best.iter().filter(|(_, name)| name == "out.example.org").map(|(p, _)| *p).min();
        let mut survivors: Vec<(u16, String)> =
            best.into_iter().filter(|(p, _)| own.map_or(true, |own| *p < own)).collect();
        survivors.sort();
        match planner(seed).route(&Host::Domain(domain("example.net")), Some(&answer)) {
            Ok(hops) => {
                let got: Vec<(u16, String)> = hops
                    .iter()
                    .map(|hop| (hop.preference, hop.host.to_string().to_ascii_lowercase()))
                    .collect();
                prop_assert!(got.windows(2).all(|pair| pair[0].0 <= pair[1].0));
                let mut sorted = got.clone();
                sorted.sort();
                prop_assert_eq!(sorted, survivors);
            }
            Err(RouteError::NoUsableMx) => prop_assert!(list.is_empty()),
            Err(RouteError::LoopsToSelf) => prop_assert!(survivors.is_empty() && own.is_some()),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn planning_never_panics(
        rdata in proptest::collection::vec((any::<u16>(), "[a-zA-Z0-9.\\-]{0,20}"), 0..8),
        seed in any::<u64>(),
    ) {
        if let Ok(answer) = MxAnswer::from_rdata(rdata.iter().map(|(p, n)| (*p, n.as_str()))) {
            let mut answers = MxAnswers::new();
            answers.insert(domain("example.net"), answer);
            let plan = planner(seed).plan(vec![rcpt("a@example.net")], &answers);
            prop_assert_eq!(plan.groups.len() + plan.unroutable.len(), 1);
        }
    }
}
