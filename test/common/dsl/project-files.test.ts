import assert from 'node:assert/strict';
import { detectProjectFormat } from '../../../common/dsl/flow2.js';

describe('project format detection', () => {
  it('says 2.0 for an archive with a .project file at the root or in a folder', () => {
    assert.equal(detectProjectFormat(['flow20.project', 'basic.flow']), '2.0');
    assert.equal(detectProjectFormat(['sub/flow20.project', 'sub/basic.flow']), '2.0');
  });

  it('says 2.0 when .job files sit next to a .project file', () => {
    assert.equal(detectProjectFormat(['a.job', 'p.project']), '2.0');
  });

  it('says 1.0 for .job files without a .project file', () => {
    assert.equal(detectProjectFormat(['jobs/a.job', 'b.job', 'lib/x.jar']), '1.0');
  });

  it('says none for an archive with neither', () => {
    assert.equal(detectProjectFormat([]), 'none');
    assert.equal(detectProjectFormat(['README.md', 'basic.flow']), 'none');
  });

  it("ignores hidden files like Eclipse's .project and macOS's ._ copies, as Azkaban does", () => {
    assert.equal(detectProjectFormat(['.project', 'a.job']), '1.0');
    assert.equal(detectProjectFormat(['__MACOSX/._flow20.project', 'src/.project']), 'none');
  });
});
