//! The server driver.
