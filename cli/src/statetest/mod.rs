//! Ethereum state-test runner: judges an execution mode against ethereum/tests'
//! `GeneralStateTests`.
//!
//! A state-test file holds named tests; each has a pre-state, a block environment, a
//! transaction with lists of data, gas limits and values, and per fork a list of
//! expected post-states, each selecting one entry of every list. One *case* is one
//! (test, fork, post-state index): the runner builds revm's environment for it
//! ([`crate::fixture::env`]), executes the transaction through an [`Executor`](crate::exec::Executor)
//! on a fresh `State<EmptyDB>` holding the pre-state, and compares the resulting state
//! root and logs hash ([`roots`]) with the fixture's, or checks that a transaction the
//! fixture marks with `expectException` is rejected.
//!
//! Files with posts for many forks (Frontier to Cancun, as ethereum/tests' older suites have
//! them) are judged by the reference fillers' rules: after a rejected transaction the
//! coinbase still gets a zero mining reward, which before EIP-158 leaves an empty coinbase in
//! the trie and from EIP-158 on deletes an empty one; and a case whose transaction creates a
//! contract over an account with storage but no code and nonce 0 (an EIP-7610 collision,
//! which revm cannot see) is recognised by that creation and skipped, whatever its file is
//! called.
//!
//! Files run in parallel on worker threads, each with its own executor, so any mode
//! (interpreter or compiled) is judged the same way. [`run`] returns a [`Report`];
//! [`crate::cmd::statetest`] is the `revm-jit statetest` command.

pub mod progress;
pub mod report;
pub mod roots;
mod runner;
#[cfg(test)]
mod tests;

pub use progress::{Console, DirSummary, Progress, Quiet};
pub use report::{CaseOutcome, Counts, Failure, Rejected, Report, Status};
pub use runner::{RunOptions, run};
