//! Many rows to one `INSERT`: a statement's round trip to the database
//! (and, on SQLite, to its connection's thread) costs more than a row, so
//! the writer inserts a group commit's new rows a chunk at a time.
use crate::Backend;

/// Rows written by one statement at most: 64 rows of the widest table
/// (15 columns) bind 960 values, far below SQLite's 32,766 and
/// PostgreSQL's 65,535.
pub(crate) const PER_STATEMENT: usize = 64;

/// `rows` split into chunks of at most [`PER_STATEMENT`], each a power of
/// two: a handful of statement texts, all kept prepared, whatever the
/// size of the group.
pub(crate) fn chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = PER_STATEMENT.min(1 << rest.len().ilog2());
        let (chunk, after) = rest.split_at(size);
        rest = after;
        Some(chunk)
    })
}

/// `($1, $2), ($3, $4)` for `rows` rows of `columns` values each; on
/// SQLite `(?, ?), (?, ?)`: SQLite looks a numbered parameter's name up
/// in a list as long as the statement's parameters, once per value bound,
/// which makes binding a wide statement's numbered parameters quadratic.
pub(crate) fn placeholders(rows: usize, columns: usize, backend: Backend) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&(row * columns + column + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_are_powers_of_two_up_to_the_statement_size() {
        let rows: Vec<u32> = (0..203).collect();
        let sizes: Vec<usize> = super::chunks(&rows).map(<[u32]>::len).collect();
        assert_eq!(sizes, [64, 64, 64, 8, 2, 1]);
        assert_eq!(super::chunks(&rows).flatten().count(), 203);
        assert_eq!(super::chunks::<u32>(&[]).count(), 0);
    }

    #[test]
    fn placeholders_number_every_value_row_by_row() {
        use crate::Backend::{Postgres, Sqlite};
        assert_eq!(
            super::placeholders(2, 3, Postgres),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(super::placeholders(1, 1, Postgres), "($1)");
        assert_eq!(super::placeholders(2, 2, Sqlite), "(?, ?), (?, ?)");
    }
}
