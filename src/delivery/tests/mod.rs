mod dsn;
mod outcome;
mod plan;
mod warmup;

use alloc::string::ToString;
use alloc::vec::Vec;

use crate::address::{Domain, ForwardPath, Host};
use crate::reply::{EnhancedStatusCode, Reply, ReplyCode};
use crate::Text;

fn domain(name: &str) -> Domain {
    Domain::parse(name).unwrap()
}

fn host(name: &str) -> Host {
    Host::parse(name).unwrap()
}

fn rcpt(address: &str) -> ForwardPath {
    ForwardPath::parse(&alloc::format!("<{address}>")).unwrap()
}

fn reply(code: u16, enhanced: Option<&str>, text: &'static str) -> Reply {
    let code = ReplyCode::new(code).unwrap();
    match enhanced {
        Some(enhanced) => Reply::with_enhanced(
            code,
            enhanced.parse::<EnhancedStatusCode>().unwrap(),
            Text::from_static(text),
        )
        .unwrap(),
        None => Reply::new(code, Text::from_static(text)),
    }
}

fn names(hops: &[super::Hop]) -> Vec<alloc::string::String> {
    hops.iter().map(|hop| hop.host.to_string()).collect()
}
