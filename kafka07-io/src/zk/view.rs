//! Read-only views of the registry for tools: the cluster (`kafka07 topics`) and a consumer
//! group (`kafka07 groups`, what 0.7's `ConsumerOffsetChecker` printed).

use std::collections::BTreeMap;

use super::client::ZkClient;
use super::layout::{
    parse_committed, parse_partition_count, topic_path, BrokerInfo, BrokerPartition, GroupPaths,
    Subscription, BROKER_IDS, BROKER_TOPICS,
};
use crate::client::{Client, OffsetTime};
use crate::error::Result;

/// One topic: the brokers registered for it and their partition counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicView {
    /// Topic.
    pub name: String,
    /// `(broker id, partition count, broker alive in /brokers/ids)`, by broker id.
    pub brokers: Vec<(u32, u32, bool)>,
}

impl TopicView {
    /// Partitions over the live brokers.
    pub fn live_partitions(&self) -> u32 {
        self.brokers.iter().filter(|b| b.2).map(|b| b.1).sum()
    }
}

/// The brokers and topics registered in ZooKeeper.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Live brokers, by id.
    pub brokers: Vec<BrokerInfo>,
    /// Topics, by name.
    pub topics: Vec<TopicView>,
    /// Malformed znodes (path: what is wrong), each skipped.
    pub problems: Vec<String>,
}

/// Adds a problem to a list once (at most 1,000 kept: a registry full of garbage must not
/// grow memory without bound).
pub(crate) fn note_problem(list: &mut Vec<String>, p: String) {
    if list.len() < 1000 && !list.contains(&p) {
        list.push(p);
    }
}

/// Reads the registrations of `ids` (children of `/brokers/ids`, read with or without a
/// watch by the caller), by id. Malformed ones go to `problem` (path: what is wrong) and are
/// skipped; ids gone in between are left out.
pub(crate) fn read_brokers(
    zk: &ZkClient,
    ids: Vec<String>,
    problem: &mut dyn FnMut(String),
) -> Result<BTreeMap<u32, BrokerInfo>> {
    let mut out = BTreeMap::new();
    for id in ids {
        let path = format!("{BROKER_IDS}/{id}");
        let Ok(n) = id.parse::<u32>() else {
            problem(format!("{path}: the broker id is not a number"));
            continue;
        };
        if let Some(d) = zk.get(&path)? {
            match BrokerInfo::parse(n, &d) {
                Ok(b) => {
                    out.insert(n, b);
                }
                Err(e) => problem(format!("{path}: {e}")),
            }
        }
    }
    Ok(out)
}

/// Reads the partition count each broker in `children` (children of
/// `/brokers/topics/<topic>`) registered for `topic`, by broker id; malformed ones go to
/// `problem` and are skipped.
pub(crate) fn read_topic_counts(
    zk: &ZkClient,
    topic: &str,
    children: Vec<String>,
    problem: &mut dyn FnMut(String),
) -> Result<BTreeMap<u32, u32>> {
    let tpath = topic_path(topic);
    let mut out = BTreeMap::new();
    for child in children {
        let cpath = format!("{tpath}/{child}");
        let Ok(b) = child.parse::<u32>() else {
            problem(format!("{cpath}: the broker id is not a number"));
            continue;
        };
        if let Some(d) = zk.get(&cpath)? {
            match parse_partition_count(&d) {
                Ok(n) => {
                    out.insert(b, n);
                }
                Err(e) => problem(format!("{cpath}: {e}")),
            }
        }
    }
    Ok(out)
}

/// Reads `/brokers/ids` and `/brokers/topics`.
pub fn cluster_view(zk: &ZkClient) -> Result<ClusterView> {
    let mut problems = Vec::new();
    let mut problem = |p: String| problems.push(p);
    let brokers = read_brokers(zk, zk.children(BROKER_IDS)?, &mut problem)?;
    let mut topics = Vec::new();
    for name in zk.children(BROKER_TOPICS)? {
        let counts = read_topic_counts(zk, &name, zk.children(&topic_path(&name))?, &mut problem)?;
        let brokers = counts
            .into_iter()
            .map(|(b, n)| (b, n, brokers.contains_key(&b)))
            .collect();
        topics.push(TopicView { name, brokers });
    }
    Ok(ClusterView {
        brokers: brokers.into_values().collect(),
        topics,
        problems,
    })
}

/// A registered member of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMember {
    /// `<group>_<id>`.
    pub id: String,
    /// Its subscription string as registered.
    pub subscription: String,
}

/// One partition of a group's topics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupPartition {
    /// Topic.
    pub topic: String,
    /// Broker and partition.
    pub partition: BrokerPartition,
    /// The owning thread id, when owned.
    pub owner: Option<String>,
    /// The committed offset, when one was committed.
    pub committed: Option<u64>,
    /// The broker's log end (OFFSETS latest), when the broker answered.
    pub log_end: Option<u64>,
}

impl GroupPartition {
    /// `log_end - committed` (bytes not yet consumed), when both are known.
    pub fn lag(&self) -> Option<u64> {
        Some(self.log_end?.saturating_sub(self.committed?))
    }
}

/// A consumer group's members, owners, offsets and lag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupView {
    /// The group.
    pub group: String,
    /// Members, by id.
    pub members: Vec<GroupMember>,
    /// Partitions of every topic with owners or offsets in the group, by topic then
    /// broker-partition.
    pub partitions: Vec<GroupPartition>,
    /// Malformed znodes (path: what is wrong), each skipped.
    pub problems: Vec<String>,
}

/// The groups registered under `/consumers`.
pub fn groups(zk: &ZkClient) -> Result<Vec<String>> {
    zk.children("/consumers")
}

/// Reads a group; with `log_ends`, asks each partition's broker for its log end (for lag).
pub fn group_view(zk: &ZkClient, group: &str, log_ends: bool) -> Result<GroupView> {
    let paths = GroupPaths::new(group);
    let mut view = GroupView {
        group: group.to_owned(),
        ..GroupView::default()
    };
    for m in zk.children(&paths.ids())? {
        let path = paths.id(&m);
        if let Some(d) = zk.get(&path)? {
            if let Err(e) = Subscription::parse(&d) {
                view.problems.push(format!("{path}: {e}"));
            }
            view.members.push(GroupMember {
                id: m,
                subscription: String::from_utf8_lossy(&d).into_owned(),
            });
        }
    }
    let mut parts: BTreeMap<(String, BrokerPartition), GroupPartition> = BTreeMap::new();
    let mut topics: Vec<String> = zk.children(&format!("{}/owners", paths.root))?;
    topics.extend(zk.children(&format!("{}/offsets", paths.root))?);
    topics.sort();
    topics.dedup();
    for topic in topics {
        let new = |partition| GroupPartition {
            topic: topic.clone(),
            partition,
            owner: None,
            committed: None,
            log_end: None,
        };
        // Every registered partition of the topic, so unowned ones show too.
        let counts = read_topic_counts(zk, &topic, zk.children(&topic_path(&topic))?, &mut |p| {
            view.problems.push(p)
        })?;
        for (broker, n) in counts {
            for partition in 0..n {
                let bp = BrokerPartition { broker, partition };
                parts.entry((topic.clone(), bp)).or_insert_with(|| new(bp));
            }
        }
        for owners in [true, false] {
            let base = if owners {
                paths.owners(&topic)
            } else {
                paths.offsets(&topic)
            };
            for child in zk.children(&base)? {
                let path = format!("{base}/{child}");
                let Some(bp) = BrokerPartition::parse(&child) else {
                    view.problems
                        .push(format!("{path}: not <broker>-<partition>"));
                    continue;
                };
                let Some(d) = zk.get(&path)? else { continue };
                let p = parts.entry((topic.clone(), bp)).or_insert_with(|| new(bp));
                if owners {
                    p.owner = Some(String::from_utf8_lossy(&d).into_owned());
                } else {
                    match parse_committed(&d) {
                        Ok(o) => p.committed = o,
                        Err(e) => view.problems.push(format!("{path}: {e}")),
                    }
                }
            }
        }
    }
    if log_ends {
        let brokers: BTreeMap<u32, String> = cluster_view(zk)?
            .brokers
            .into_iter()
            .map(|b| (b.id, b.addr()))
            .collect();
        let mut clients: BTreeMap<u32, Client> = BTreeMap::new();
        for p in parts.values_mut() {
            let Some(addr) = brokers.get(&p.partition.broker) else {
                continue;
            };
            let c = clients.entry(p.partition.broker).or_insert_with(|| {
                Client::new(crate::BrokerList::new([addr.as_str()]).max_rounds(1))
            });
            if let Ok(o) = c.offsets(
                &p.topic,
                p.partition.partition as i32,
                OffsetTime::Latest,
                1,
            ) {
                p.log_end = o.first().copied();
            }
        }
    }
    view.partitions = parts.into_values().collect();
    Ok(view)
}
