"""Rewards, pure Python with no ML imports: H-PRM (hierarchical process reward) and FTCA (token credit)."""
