//! Any MTA-STS policy file either is refused or reads back, written out,
//! as the same policy; every MX verdict of it can be asked for.

use smtpwire::delivery::mta_sts::Policy;

pub fn check(data: &[u8]) {
    let Ok(policy) = Policy::parse(data) else {
        return;
    };
    let written = policy.to_file();
    assert_eq!(Policy::parse(written.as_bytes()), Ok(policy.clone()));
    for pattern in &policy.mx {
        let name = pattern.to_string();
        let host = name
            .strip_prefix("*.")
            .map_or(name.clone(), |rest| format!("mx.{rest}"));
        assert!(policy.lists(&host), "{host} against {name}");
        policy.check_mx(&host);
    }
}
