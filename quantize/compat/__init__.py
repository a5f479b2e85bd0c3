"""Drop-ins for peers' k-means APIs: scipy.cluster.vq, scikit-learn's KMeans, cv2.kmeans.

Built on the core's public functions only.
"""
