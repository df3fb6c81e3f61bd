-- Tables made before fix patches were checked for safety lack the column.
alter table diff_analyses add column if not exists patch_rejected varchar
