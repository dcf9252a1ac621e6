//! State per named line (a disk in `diskstats`, an interface in `net/dev`) kept in the order
//! the lines came in the previous round. A round that sees the same names in the same order
//! finds each one at its place, with one comparison of its name: no hashing and no allocation;
//! a name seen for the first time (or moved) is looked for among the others, so a changed file
//! costs one search per changed line. Names not seen in a round are dropped when it ends.

pub(crate) struct Rows<T> {
    rows: Vec<Row<T>>,
    /// Rows before this one were seen in this round, in its order.
    next: usize,
}

struct Row<T> {
    name: String,
    state: T,
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Rows {
            rows: Vec::new(),
            next: 0,
        }
    }
}

impl<T> Rows<T> {
    /// The state of `name` in this round (made by `new` when the previous round had no such
    /// name). Each name at most once a round.
    pub(crate) fn row(&mut self, name: &str, new: impl FnOnce() -> T) -> &mut T {
        let at = self.next;
        let found = match self.rows.get(at) {
            Some(r) if r.name == name => Some(at),
            _ => self.rows[at..]
                .iter()
                .position(|r| r.name == name)
                .map(|i| at + i),
        };
        match found {
            Some(i) => self.rows.swap(at, i),
            None => self.rows.insert(
                at,
                Row {
                    name: name.to_string(),
                    state: new(),
                },
            ),
        }
        self.next += 1;
        &mut self.rows[at].state
    }

    /// Ends a round: the names it did not see are dropped.
    pub(crate) fn finish(&mut self) {
        self.rows.truncate(self.next);
        self.next = 0;
    }

    /// The names of this round so far with their state, in order.
    #[cfg(test)]
    fn names(&self) -> Vec<&str> {
        self.rows[..self.next]
            .iter()
            .map(|r| r.name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Rows;

    #[test]
    fn keeps_state_by_name_whatever_the_order_and_drops_the_unseen() {
        let mut rows: Rows<u32> = Rows::default();
        for name in ["a", "b", "c"] {
            *rows.row(name, || 0) += 1;
        }
        rows.finish();
        for name in ["c", "a", "d"] {
            *rows.row(name, || 100) += 1;
        }
        assert_eq!(rows.names(), ["c", "a", "d"]);
        rows.finish();
        let mut got = Vec::new();
        for name in ["a", "b", "c", "d"] {
            got.push(*rows.row(name, || 1000));
        }
        rows.finish();
        // a and c kept their counts; b was dropped (unseen), so it starts again; d is new.
        assert_eq!(got, [2, 1000, 2, 101]);
    }
}
