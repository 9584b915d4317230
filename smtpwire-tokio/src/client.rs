//! The client driver.
