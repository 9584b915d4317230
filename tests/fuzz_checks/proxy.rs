//! The PROXY parser never panics, gives the same answer however much of the
//! input has arrived, and what it accepts re-emits to the same header.

use smtpwire::proxy::parse;

pub fn check(data: &[u8]) {
    let whole = parse(data);
    for cut in 0..data.len() {
        let partial = parse(&data[..cut]);
        assert!(partial == Ok(None) || partial == whole, "prefix {cut}");
    }
    if let Ok(Some((header, consumed))) = &whole {
        assert!(*consumed <= data.len());
        assert_eq!(parse(&data[..*consumed]), whole);
        let mut again = Vec::new();
        header.emit(&mut again).expect("a parsed header re-emits");
        assert_eq!(
            &parse(&again)
                .expect("re-emitted header parses")
                .expect("complete")
                .0,
            header
        );
    }
}
