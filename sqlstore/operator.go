package sqlstore

import (
	"context"
	"fmt"

	"github.com/glasshouse/glasshouse"
)

var _ glasshouse.OperatorStore = (*Store)(nil)

// SetOperator makes memberID an operator, or withdraws it. ENOTFOUND if the
// member is absent or (off) not an operator; ECONFLICT (on) if it already
// is one.
func (s *Store) SetOperator(ctx context.Context, memberID int64, on bool) error {
	now := s.now()
	err := s.write(ctx, func(t *tx) error {
		m, err := t.member(`m.id = ?`, memberID)
		if err != nil {
			return err
		}
		if !on {
			if n, err := t.affected(`DELETE FROM operators WHERE member_id = ?`, memberID); err != nil {
				return err
			} else if n == 0 {
				return glasshouse.Errorf(glasshouse.ENOTFOUND, "@%s is not an operator.", m.Handle)
			}
			return nil
		}
		if n, err := t.affected(`INSERT INTO operators (member_id, granted_at) VALUES (?, ?)
			ON CONFLICT (member_id) DO NOTHING`, memberID, micros(now)); err != nil {
			return err
		} else if n == 0 {
			return glasshouse.Errorf(glasshouse.ECONFLICT, "@%s is already an operator.", m.Handle)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set operator: %w", err)
	}
	return nil
}

// IsOperator reports whether memberID is an operator.
func (s *Store) IsOperator(ctx context.Context, memberID int64) (bool, error) {
	ok, err := s.read(ctx).exists(`SELECT EXISTS(SELECT 1 FROM operators WHERE member_id = ?)`, memberID)
	if err != nil {
		return false, fmt.Errorf("is operator: %w", err)
	}
	return ok, nil
}

// Operators lists the operators, the longest-serving first.
func (s *Store) Operators(ctx context.Context) ([]*glasshouse.Operator, error) {
	rows, err := s.read(ctx).query(`SELECT ` + memberColumns + `, o.granted_at
		FROM operators o JOIN members m ON m.id = o.member_id ORDER BY o.granted_at, m.id`)
	if err != nil {
		return nil, fmt.Errorf("operators: %w", err)
	}
	defer rows.Close()
	ops := []*glasshouse.Operator{}
	for rows.Next() {
		var granted int64
		m, err := scanMember(rows, &granted)
		if err != nil {
			return nil, fmt.Errorf("operators: %w", err)
		}
		ops = append(ops, &glasshouse.Operator{Member: m, GrantedAt: fromMicros(granted)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("operators: %w", err)
	}
	return ops, nil
}
