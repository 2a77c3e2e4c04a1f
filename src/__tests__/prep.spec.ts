import type { IPrepSuggestion } from '../api';
import { decisionTone, ownTargetLabel, profileColumns, profileTarget, suggestionCaption } from '../prep';

/** A PrepSuggestion as GET /mlops/api/profiles/{id}/prep sends it (mlops_magics/prep/suggestion.py to_dict). */
function suggestion(overrides: Partial<IPrepSuggestion> = {}): IPrepSuggestion {
  return {
    profile_id: '20261202-100158-587816',
    target: 'churned',
    task: 'classification',
    model: 'linear',
    code: 'prep = ColumnTransformer(\n    [],\n)\n',
    decisions: [
      { column: 'customer_id', found: 'ID-like, 400 distinct of 400', done: 'dropped' },
      { column: 'income', found: '18% missing', done: 'median, with a missing-value indicator' },
      { column: 'email', found: 'ID-like, 400 distinct of 400', done: 'dropped' },
      { column: 'plan', found: 'mostly zeros', done: 'left: zeros are values; kept as they are' },
      { column: '(rows)', found: '3 duplicate rows', done: 'drop them before fitting' }
    ],
    ...overrides
  };
}

describe('profileColumns and profileTarget', () => {
  it("read a profile.json's columns in order and the target it was made with", () => {
    const profile = {
      columns: { customer_id: { kind: 'numeric' }, 'a column': { kind: 'categorical' }, churned: {} },
      target: { column: 'churned', associations: [] }
    };
    expect(profileColumns(profile)).toEqual(['customer_id', 'a column', 'churned']);
    expect(profileTarget(profile)).toBe('churned');
  });

  it('say nothing for a profile without them', () => {
    expect(profileColumns({})).toEqual([]);
    expect(profileColumns({ columns: ['not', 'a', 'map'] })).toEqual([]);
    expect(profileTarget({ target: null })).toBeNull();
    expect(profileTarget({ target: { column: 3 } })).toBeNull();
  });
});

describe('ownTargetLabel', () => {
  it("names the profile's own target once it is known", () => {
    expect(ownTargetLabel(undefined)).toBe("(the profile's own)");
    expect(ownTargetLabel(null)).toBe("none (the profile's own)");
    expect(ownTargetLabel('churned')).toBe("churned (the profile's own)");
  });
});

describe('decisionTone', () => {
  it('tells a dropped column from a left alert and a kept one', () => {
    const [id, income, , zeros, rows] = suggestion().decisions;
    expect(decisionTone(id)).toBe('dropped');
    expect(decisionTone(income)).toBe('kept');
    expect(decisionTone(zeros)).toBe('left');
    // Rows dropped before fitting are a step of the code, not a column left out.
    expect(decisionTone(rows)).toBe('kept');
    expect(decisionTone({ column: 'x', found: '97% missing', done: 'dropped; and more' })).toBe('dropped');
  });
});

describe('suggestionCaption', () => {
  it('says the target, its task and how many columns are dropped', () => {
    expect(suggestionCaption(suggestion())).toBe('Target: churned (classification) · 2 dropped');
    expect(suggestionCaption(suggestion({ target: null, task: null, decisions: [] }))).toBe(
      'Target: no target · no column dropped'
    );
    expect(suggestionCaption(suggestion({ model: 'trees' }))).toBe('Target: churned (classification) · 2 dropped · for trees');
  });
});
