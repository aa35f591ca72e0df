"""Operations: what watches the pipelines: the alarms they have in common, the dashboard and the
execution-status notifications. Built from ``stacks.building_blocks``; reads the pipelines only
through the handles the stacks pass in."""
