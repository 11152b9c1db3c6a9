"""Bulk booking: up to 10,000 shipments from one JSON or CSV upload, booked row by row by a job."""
