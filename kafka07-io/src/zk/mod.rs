//! Kafka 0.7 clusters coordinated through ZooKeeper (spec §10), behind the `zookeeper`
//! feature.
//!
//! * Brokers register themselves: [`BrokerConfig::zookeeper`](crate::BrokerConfig::zookeeper)
//!   makes a [`Broker`](crate::Broker) write `/brokers/ids/<id>` and
//!   `/brokers/topics/<topic>/<id>` (ephemeral), and write them again after a session expiry.
//! * [`ZkProducer`] discovers brokers and partitions and keeps its view current with watches.
//! * [`GroupConsumer`] joins a consumer group: the reference range assignment, owner nodes,
//!   offsets committed to ZooKeeper, rebalancing when members or brokers come and go.
//! * [`cluster_view`] and [`group_view`] read the registry for tools (`kafka07 topics`,
//!   `kafka07 groups`).
//!
//! The ZooKeeper wire protocol is the `zookeeper-client` crate's (async); [`ZkClient`] runs it
//! on one shared background worker thread and gives this crate's blocking API. Every call is
//! bounded by the session timeout: an unreachable ensemble is an error naming the connect
//! string, never a hang.
//!
//! Connect strings are the reference's: `host:port[,host:port...][/chroot]`, e.g.
//! `zk1:2181,zk2:2181/kafka`. A chroot that does not exist yet is created.

mod broker;
mod client;
mod group;
mod layout;
mod producer;
mod view;

pub use broker::{BrokerZkConfig, Registration};
pub use client::{SessionEvent, ZkClient, ZkConfig};
pub use group::{GroupConfig, GroupConsumer, GroupMessage, GroupStats, MessageStream};
pub use layout::{
    assign_range, broker_id_path, default_partition, java_string_hash, normalise_filter,
    parse_committed, parse_offset, parse_partition_count, thread_ids, thread_index,
    topic_broker_path, topic_path, BrokerInfo, BrokerPartition, GroupPaths, Subscription,
    BROKER_IDS, BROKER_TOPICS,
};
pub use producer::{PartitionFn, ZkPartitioning, ZkProducer, ZkProducerStats};
pub use view::{
    cluster_view, group_view, groups, ClusterView, GroupMember, GroupPartition, GroupView,
    TopicView,
};
