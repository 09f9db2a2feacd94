"""The planning domain, pure Python with no ML imports: plan language, domain, scenes, simulator, planner."""
