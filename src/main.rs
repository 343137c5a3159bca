//! `kafka07`: decode captured Kafka 0.7 traffic and log segments; run a 0.7 broker; produce,
//! consume and ask for offsets. See `docs/CLI.md`.
#![deny(unsafe_code)]

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Apache Kafka 0.7 on the command line: decode captures, raw streams and log segments; run
/// an embedded 0.7 broker; produce, consume and query offsets.
#[derive(Debug, Parser)]
#[command(
    name = "kafka07",
    version,
    propagate_version = true,
    after_help = "Exit codes: 0 success; 1 I/O or other failure; 2 bad command line (or an \
        invalid topic name); 3 decode: unknown input format; 4 decode: the input has defects; \
        5 no broker reachable; 6 offset out of range (or not a message boundary); 7 the broker \
        closed the connection or answered an error. See docs/CLI.md."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode pcap/pcapng captures, raw request/response streams, log segments and log
    /// directories.
    Decode(cmd::decode::Args),
    /// Run an embedded 0.7 broker, in memory or on a 0.7 log directory.
    Broker(cmd::broker::Args),
    /// Send messages to a topic (from -m, or stdin split at a delimiter, or all of stdin).
    Produce(cmd::produce::Args),
    /// Print the messages of a partition or a consumer group (text, hex or JSON Lines).
    Consume(cmd::consume::Args),
    /// Ask a broker for the offsets of a partition (OFFSETS request).
    Offsets(cmd::offsets::Args),
    /// List the brokers and topics registered in ZooKeeper (a 0.7 cluster).
    Topics(cmd::cluster::TopicsArgs),
    /// Show consumer groups registered in ZooKeeper: members, owners, committed offsets, lag.
    Groups(cmd::cluster::GroupsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => cmd::decode::run(args),
        Command::Broker(args) => cmd::broker::run(args),
        Command::Produce(args) => cmd::produce::run(args),
        Command::Consume(args) => cmd::consume::run(args),
        Command::Offsets(args) => cmd::offsets::run(args),
        Command::Topics(args) => cmd::cluster::topics(args),
        Command::Groups(args) => cmd::cluster::groups_cmd(args),
    };
    match result {
        Ok(code) => code.exit(),
        // A reader that closed the pipe early (`| head`) wanted no more: a quiet success.
        Err(e) if cmd::out::is_closed_stdout(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kafka07: {e:#}");
            cmd::code_of(&e).exit()
        }
    }
}
