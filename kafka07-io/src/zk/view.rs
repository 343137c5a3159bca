//! Read-only views of the registry for tools: the cluster (`kafka07 topics`) and a consumer
//! group (`kafka07 groups`, what 0.7's `ConsumerOffsetChecker` printed).

use std::collections::BTreeMap;

use super::client::ZkClient;
use super::layout::{
    parse_partition_count, topic_path, BrokerInfo, BrokerPartition, GroupPaths, Subscription,
    BROKER_IDS, BROKER_TOPICS,
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

/// Reads `/brokers/ids` and `/brokers/topics`.
pub fn cluster_view(zk: &ZkClient) -> Result<ClusterView> {
    let mut view = ClusterView::default();
    let mut ids: Vec<(u32, String)> = Vec::new();
    for id in zk.children(BROKER_IDS)? {
        match id.parse::<u32>() {
            Ok(n) => ids.push((n, id)),
            Err(_) => view
                .problems
                .push(format!("{BROKER_IDS}/{id}: the broker id is not a number")),
        }
    }
    ids.sort();
    for (n, id) in ids {
        let path = format!("{BROKER_IDS}/{id}");
        if let Some(d) = zk.get(&path)? {
            match BrokerInfo::parse(n, &d) {
                Ok(b) => view.brokers.push(b),
                Err(e) => view.problems.push(format!("{path}: {e}")),
            }
        }
    }
    for name in zk.children(BROKER_TOPICS)? {
        let tpath = topic_path(&name);
        let mut brokers = Vec::new();
        for child in zk.children(&tpath)? {
            let cpath = format!("{tpath}/{child}");
            let Ok(b) = child.parse::<u32>() else {
                view.problems
                    .push(format!("{cpath}: the broker id is not a number"));
                continue;
            };
            if let Some(d) = zk.get(&cpath)? {
                match parse_partition_count(&d) {
                    Ok(n) => brokers.push((b, n, view.brokers.iter().any(|x| x.id == b))),
                    Err(e) => view.problems.push(format!("{cpath}: {e}")),
                }
            }
        }
        brokers.sort();
        view.topics.push(TopicView { name, brokers });
    }
    Ok(view)
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
        let entry = |parts: &mut BTreeMap<_, GroupPartition>, bp: BrokerPartition| {
            parts
                .entry((topic.clone(), bp))
                .or_insert_with(|| GroupPartition {
                    topic: topic.clone(),
                    partition: bp,
                    owner: None,
                    committed: None,
                    log_end: None,
                })
                .clone()
        };
        // Every registered partition of the topic, so unowned ones show too.
        let tpath = topic_path(&topic);
        for child in zk.children(&tpath)? {
            let (Ok(b), Some(d)) = (child.parse::<u32>(), zk.get(&format!("{tpath}/{child}"))?)
            else {
                continue;
            };
            if let Ok(n) = parse_partition_count(&d) {
                for p in 0..n {
                    entry(
                        &mut parts,
                        BrokerPartition {
                            broker: b,
                            partition: p,
                        },
                    );
                }
            }
        }
        for child in zk.children(&paths.owners(&topic))? {
            let path = format!("{}/{child}", paths.owners(&topic));
            let Some(bp) = BrokerPartition::parse(&child) else {
                view.problems
                    .push(format!("{path}: not <broker>-<partition>"));
                continue;
            };
            entry(&mut parts, bp);
            if let Some(d) = zk.get(&path)? {
                if let Some(p) = parts.get_mut(&(topic.clone(), bp)) {
                    p.owner = Some(String::from_utf8_lossy(&d).into_owned());
                }
            }
        }
        for child in zk.children(&paths.offsets(&topic))? {
            let path = format!("{}/{child}", paths.offsets(&topic));
            let Some(bp) = BrokerPartition::parse(&child) else {
                view.problems
                    .push(format!("{path}: not <broker>-<partition>"));
                continue;
            };
            entry(&mut parts, bp);
            if let Some(d) = zk.get(&path)? {
                match std::str::from_utf8(&d)
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                {
                    Some(o) => {
                        if let Some(p) = parts.get_mut(&(topic.clone(), bp)) {
                            p.committed = Some(o);
                        }
                    }
                    None => view.problems.push(format!(
                        "{path}: {:?} is not an offset",
                        String::from_utf8_lossy(&d)
                    )),
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
