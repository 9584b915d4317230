//! Running as a system service: a listening socket handed over by systemd
//! (socket activation), the drop from root to an unprivileged user once the
//! port is bound, and readiness and shutdown told to the service manager
//! (`sd_notify`).
//!
//! Port 25 needs root (or `CAP_NET_BIND_SERVICE`); nothing after the bind
//! does. So a program started as root binds, reads what only root may read
//! (TLS keys, the users file), and gives up root before it reads a byte from
//! the network, as Postfix's and OpenSMTPD's listeners do. Under socket
//! activation systemd binds instead, and the program can run unprivileged
//! from the start.
//!
//! All of it is Unix: elsewhere there is no socket to inherit, no manager
//! to notify, and `--user` is refused.

use std::io;
use std::net::{SocketAddr, TcpListener};

/// The socket a program serves, and then the user it runs as: the socket
/// systemd passed (`inherited`, from [`inherited_listener`]) or else
/// `address` bound now; then, given `user`, the drop to that user
/// ([`drop_privileges`]), before anything is read from the network. Runs
/// inside the tokio runtime that serves the socket.
pub fn listen(
    inherited: Option<TcpListener>,
    address: SocketAddr,
    user: Option<&str>,
) -> io::Result<tokio::net::TcpListener> {
    let listener = match inherited {
        Some(listener) => listener,
        None => {
            let listener = TcpListener::bind(address)?;
            listener.set_nonblocking(true)?;
            listener
        }
    };
    if let Some(user) = user {
        drop_privileges(user)?;
    }
    tokio::net::TcpListener::from_std(listener)
}

/// The listening socket systemd passed (`LISTEN_FDS`, the first one), if
/// any. Call it before the program starts threads: it clears the
/// variables, so that the programs it starts do not take the socket too.
#[cfg(unix)]
pub fn inherited_listener() -> io::Result<Option<TcpListener>> {
    let Some(listener) = listenfd::ListenFd::from_env().take_tcp_listener(0)? else {
        return Ok(None);
    };
    // tokio takes only non-blocking sockets.
    listener.set_nonblocking(true)?;
    Ok(Some(listener))
}

/// [`inherited_listener`] for a program's `main`: a failure is reported on
/// stderr and comes back as the status for `main` to exit with. Call it
/// before any thread starts (the log's writer, the runtime).
pub fn take_inherited_listener() -> Result<Option<TcpListener>, std::process::ExitCode> {
    inherited_listener().map_err(|error| {
        eprintln!("error: the socket from the service manager: {error}");
        std::process::ExitCode::FAILURE
    })
}

/// Becomes `user` (a name from the password database) for good: its group,
/// no supplementary groups, its user id. Refuses to become root, and fails
/// unless the process can change its ids (it runs as root).
#[cfg(unix)]
pub fn drop_privileges(user: &str) -> io::Result<()> {
    use nix::unistd::{Gid, Uid, User};

    let account = User::from_name(user)
        .map_err(io::Error::from)?
        .ok_or_else(|| invalid(format!("--user {user}: no such user")))?;
    if account.uid.is_root() {
        return Err(invalid(format!("--user {user}: that is root")));
    }
    if !Uid::effective().is_root() {
        return Err(invalid(format!(
            "--user {user}: only a process started as root can become another user"
        )));
    }
    // The group first: once the user id is not root, it cannot change.
    nix::unistd::setgroups(&[account.gid]).map_err(io::Error::from)?;
    nix::unistd::setgid(account.gid).map_err(io::Error::from)?;
    nix::unistd::setuid(account.uid).map_err(io::Error::from)?;
    // setuid as root sets the real, effective and saved ids alike; a
    // process that could become root again has not dropped anything.
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok()
        || Uid::current() != account.uid
        || Gid::current() != account.gid
    {
        return Err(io::Error::other(format!(
            "--user {user}: the process could not give up root"
        )));
    }
    Ok(())
}

/// Tells systemd the program is ready to serve (`READY=1`, for
/// `Type=notify` units), with a status line; nothing without a service
/// manager listening.
pub fn notify_ready(status: &str) {
    #[cfg(unix)]
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(status),
    ]);
    #[cfg(not(unix))]
    let _ = status;
}

/// Tells systemd the program is reading its settings again
/// (`RELOADING=1`, with the time that `Type=notify-reload` units need);
/// [`notify_reloaded`] says when it is done.
pub fn notify_reloading() {
    #[cfg(unix)]
    match sd_notify::NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[sd_notify::NotifyState::Reloading, now]),
        Err(error) => eprintln!("cannot read the monotonic clock: {error}"),
    }
}

/// Tells systemd a reload is over (`READY=1`).
pub fn notify_reloaded() {
    #[cfg(unix)]
    notify(&[sd_notify::NotifyState::Ready]);
}

/// Tells systemd the program is stopping (`STOPPING=1`).
pub fn notify_stopping() {
    #[cfg(unix)]
    notify(&[sd_notify::NotifyState::Stopping]);
}

#[cfg(not(unix))]
pub fn inherited_listener() -> io::Result<Option<TcpListener>> {
    Ok(None)
}

#[cfg(not(unix))]
pub fn drop_privileges(user: &str) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!("--user {user}: only on Unix"),
    ))
}

/// SIGTERM, the way service managers and `kill` ask a program to stop.
/// Never, where there is no such signal.
pub async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut signal) = signal(SignalKind::terminate()) {
            signal.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await
}

/// SIGHUP, the way service managers (`systemctl reload`) and operators
/// ask a program to read its settings again.
pub struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    /// Starts catching SIGHUP, which from now on no longer ends the
    /// process. Inside a tokio runtime.
    pub fn new() -> Hangups {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signal = signal(SignalKind::hangup())
                .inspect_err(|error| eprintln!("cannot catch SIGHUP: {error}"))
                .ok();
            Hangups { signal }
        }
        #[cfg(not(unix))]
        Hangups {}
    }

    /// Waits for the next SIGHUP; false once none can come.
    pub async fn next(&mut self) -> bool {
        #[cfg(unix)]
        if let Some(signal) = &mut self.signal {
            return signal.recv().await.is_some();
        }
        false
    }
}

impl Default for Hangups {
    fn default() -> Self {
        Hangups::new()
    }
}

#[cfg(unix)]
fn notify(states: &[sd_notify::NotifyState<'_>]) {
    // A service manager that cannot be told is no reason to stop serving.
    if let Err(error) = sd_notify::notify(states) {
        eprintln!("cannot notify the service manager: {error}");
    }
}

#[cfg(unix)]
fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}
